"""Reading and signing the Remote Learning AUP, and the receipt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from domain.aup import AupDocument

from .common import card, execute, facts, heading, local_time, text

SIGN = "signAup"
CONFIRMATION = "I have read and understood the Remote Learning Acceptable Use Policy (AUP) for staff."


POLICY_TEXT = "aup-text"  # the Container holding the policy's sections, hidden until "Read the policy"


@dataclass(frozen=True)
class SchoolAup:
    """Whose AUP a card is, in a trust, where each school has its own (None for a single
    school: its cards read as they always have)."""

    school_id: str
    school_name: str


def signing_card(document: AupDocument, name: str | None, position: str | None, problem: str | None = None,
                 school: SchoolAup | None = None, others: tuple[SchoolAup, ...] = ()) -> dict:
    """The policy behind one "Read the policy" toggle, then name, position, the confirmation and
    Sign: on a phone the inputs and Sign are on the first screen, not after pages of text. In a
    trust the card names the school, Sign carries its id, and `others` are the other schools'
    AUPs the person may open instead."""
    body = [heading(document.title)]
    if school is not None:
        body.append(text(f"The AUP of {school.school_name}", weight="Bolder"))
    body.append(text(f"Version {document.version}. Please read it all before you sign.", subtle=True))
    if problem:
        body.append(text(problem, color="Attention", weight="Bolder"))
    body.append({"type": "ActionSet", "actions": [
        {"type": "Action.ToggleVisibility", "title": "Read the policy", "targetElements": [POLICY_TEXT]}]})
    body.append({"type": "Container", "id": POLICY_TEXT, "isVisible": False, "items": _sections(document)})
    body += [
        {"type": "Input.Text", "id": "name", "label": "Your name", "value": name or "", "isRequired": True,
         "maxLength": 120, "regex": r"^\s*\S.*$", "errorMessage": "Enter your name."},
        {"type": "Input.Text", "id": "position", "label": "Your position", "value": position or "", "isRequired": True,
         "maxLength": 120, "regex": r"^\s*\S.*$", "errorMessage": "Enter your position (for example, Class teacher)."},
        {"type": "Input.Toggle", "id": "understood", "label": "Confirmation", "title": CONFIRMATION, "valueOn": "true", "valueOff": "false",
         "isRequired": True, "errorMessage": "Confirm that you have read and understood the AUP."},
    ]
    data = {"version": document.version, "sha256": document.sha256}
    if school is not None:
        data["school"] = school.school_id
    actions = [execute("Sign", SIGN, data, style="positive")]
    actions += [execute(f"Read {other.school_name}'s AUP instead", "openAup", {"school": other.school_id}) for other in others]
    return card(body, actions)


def _sections(document: AupDocument) -> list[dict]:
    items = []
    for section in document.sections:
        if section.heading:
            items.append(text(section.heading, weight="Bolder", spacing="Medium"))
        bullets = [p[2:] for p in section.paragraphs if p.startswith("- ")]
        prose = [p for p in section.paragraphs if not p.startswith("- ")]
        for paragraph in prose:
            items.append(text(paragraph))
        if bullets:
            items.append(text("\n".join(f"- {b}" for b in bullets)))
    return items


def receipt_card(name: str, position: str, version: str, signed_at: datetime, zone: ZoneInfo, already: bool,
                 school: SchoolAup | None = None) -> dict:
    title = "You have already signed this version" if already else "Signed: thank you"
    shown = [("School", school.school_name)] if school is not None else []
    return card(
        [
            heading(title, color="Good"),
            text(CONFIRMATION),
            facts(shown + [
                ("Name", name),
                ("Position", position),
                ("Signed", local_time(signed_at, zone, "%A %d %B %Y at %H:%M")),
                ("Policy version", version),
            ]),
        ]
    )


def reminder_card(document: AupDocument, school: SchoolAup | None = None) -> dict:
    data = {"version": document.version}
    whose = ""
    if school is not None:
        data["school"] = school.school_id
        whose = f" of {school.school_name}"
    return card(
        [
            heading("Please sign the Remote Learning AUP"),
            text(f"{document.title}{whose}, version {document.version}, has not been signed by you yet. "
                 "It takes a few minutes to read."),
        ],
        [execute("Read and sign", "openAup", data)],
    )


def welcome_card(school: str, document: AupDocument | None, offered: bool = False) -> dict:
    """Sent when someone adds Chaperone in a personal chat. In a trust (`document` None, each
    school with its own AUP, `offered`), the button opens the AUP of the person's own school."""
    body = [
        heading(f"Chaperone for {school}"),
        text("Chaperone checks live lessons in Teams against the school's Remote Learning Acceptable Use Policy, "
             "reminds pupils how to behave and how to report a concern, and keeps the lesson record."),
        text("Send **report** to tell the Designated Safeguarding Lead about a concern, privately."),
    ]
    actions = []
    if document is not None:
        body.append(text(f"Staff: please read and sign the {document.title} (version {document.version})."))
        actions.append(execute("Read and sign the AUP", "openAup", {"version": document.version}))
    elif offered:
        body.append(text("Staff: please read and sign your school's Remote Learning AUP."))
        actions.append(execute("Read and sign the AUP", "openAup", {}))
    return card(body, actions)
