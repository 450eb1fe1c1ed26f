"""Behaviour expectations and how to report a concern, posted in the meeting chat at the start."""

from __future__ import annotations

from config.policy import Policy

from .common import bullets, card, execute, heading, text

REPORT_CONCERN = "reportConcern"


def concern_form(lesson_id: int | None) -> dict:
    """The short form a pupil or member of staff fills in; it goes to the DSL only."""
    return card(
        [
            text("Report a concern", weight="Bolder"),
            text("Only the Designated Safeguarding Lead will see this. It is not posted in the chat.", subtle=True),
            {
                "type": "Input.Text",
                "id": "concern",
                "label": "What happened?",
                "isMultiline": True,
                "isRequired": True,
                "maxLength": 2000,
                "errorMessage": "Please say what happened.",
            },
        ],
        [execute("Send to the DSL", REPORT_CONCERN, {"lessonId": lesson_id}, style="positive")],
    )


def reminder_card(policy: Policy, lesson_title: str | None, lesson_id: int | None) -> dict:
    return card(
        [
            heading(f"Welcome to {lesson_title or 'this lesson'}"),
            text(f"{policy.school.name} online lesson expectations", weight="Bolder", spacing="Medium"),
            bullets(policy.reminder.expectations),
            text("If something worries you", weight="Bolder", spacing="Medium"),
            bullets(policy.reminder.reporting),
        ],
        [{"type": "Action.ShowCard", "title": "Report a concern", "card": concern_form(lesson_id)}],
    )


def concern_received() -> dict:
    return card(
        [
            text("Thank you. Your concern has been sent to the Designated Safeguarding Lead.", weight="Bolder"),
            text("Nobody else in this lesson can see it.", subtle=True),
        ]
    )
