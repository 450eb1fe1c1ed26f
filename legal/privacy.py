"""The privacy notice at /privacy: what Chaperone processes, why, for how long (the policy's
[retention]) and whom to ask (the policy's [privacy] data controller contact)."""

from __future__ import annotations

from html import escape

from config.policy import Policy

from .page import bullets, page, paragraphs, table

# What is kept, and from where: one line per store of personal data (store/tables.py).
PROCESSED = [
    "Lessons held as Teams meetings that Chaperone is in: the meeting's id, title, organiser, scheduled and actual "
    "times, and its settings (lobby, who may present, chat, microphones and cameras, recording).",
    "Attendance: for each person in a lesson, their Microsoft Entra object id, display name, sign-in name, role in "
    "the meeting (organiser, presenter, attendee), whether they are staff, a pupil or external, and when they "
    "joined and left.",
    "The result of each check against the school's Remote Learning Acceptable Use Policy, and the alerts and "
    "reminders sent about them, with what senior leaders did with each alert.",
    "Safeguarding concerns reported with 'report': the words written, who reported it and when. They go "
    "privately to the Designated Safeguarding Lead.",
    "Signatures of the staff AUP: name, position, Entra object id, the policy version and a fingerprint of its text.",
    "The school's timetable and parental consent registers, imported from its management information system.",
    "An audit log of approvals, withdrawals and actions on alerts, naming who did each.",
    "The ids of the Teams events received, so that one delivered twice is recognised.",
]

NOT_PROCESSED = (
    "Chaperone does not record, and cannot see, the audio, video, screen sharing or chat of a lesson. "
    "It does not use the data for anything but the purposes below, does not sell it, and sends it to nobody "
    "outside the school except Microsoft, whose Teams and Microsoft Graph services it runs on for the school."
)

PURPOSES = [
    "to keep pupils and staff safe in live online lessons, by checking each lesson against the school's Remote "
    "Learning Acceptable Use Policy as it happens (waiting room, two members of staff present, operating hours, "
    "timetabled lessons, one-to-one sessions approved and consented);",
    "to keep the record the policy asks for: \u201cStaff will record the length, time, date, and attendance of any "
    "sessions held\u201d;",
    "to tell the teacher, senior leaders and the Designated Safeguarding Lead when something needs their attention, "
    "and to pass on concerns;",
    "to record which staff have read and signed the AUP.",
]


def privacy_notice(policy: Policy) -> str:
    school = policy.school.name
    retention = policy.retention
    kept = [
        ("Lessons, attendance and check results", f"{retention.lessons_days} days"),
        ("Cards and alerts sent", f"{retention.messages_days} days"),
        ("Safeguarding concerns (the DSL records them in the school's own system)", f"{retention.concerns_days} days"),
        ("AUP signatures", f"{retention.signatures_days} days"),
        ("Audit log", f"{retention.audit_days} days"),
        ("Ids of Teams events received", f"{retention.delivery_log_days} days"),
    ]
    body = paragraphs(
        f"Chaperone is the safeguarding companion {school} uses for live lessons in Microsoft Teams. "
        "This notice says what it processes, why, for how long, and whom to ask."
    )
    body += "<h2>Who is responsible</h2>" + _controller(policy)
    body += "<h2>What Chaperone processes</h2>" + bullets(PROCESSED) + paragraphs(NOT_PROCESSED)
    body += "<h2>Why</h2>" + bullets(PURPOSES)
    body += ("<h2>How long it is kept</h2>" + paragraphs("Records older than these periods are deleted every day:")
             + table(("Record", "Kept for"), kept)
             + paragraphs("A lesson still in progress is never deleted. Timetable and consent registers are kept "
                          "until the school imports the next version."))
    body += "<h2>Your rights</h2>" + paragraphs(
        "You can ask to see the personal data held about you, and ask for it to be corrected or deleted, by "
        "contacting the school as above. You can also complain to the Information Commissioner's Office (ico.org.uk)."
    )
    return page(f"Chaperone at {school}: privacy notice", body)


def _controller(policy: Policy) -> str:
    privacy = policy.privacy
    if privacy is None:
        return paragraphs(f"{policy.school.name} is the data controller. The school has not yet named its data "
                          "protection contact here: please ask the school office.")
    contact = (f"<p>The data controller is {escape(privacy.controller)}. Contact: {escape(privacy.contact_name)}, "
               f'<a href="mailto:{escape(privacy.contact_email)}">{escape(privacy.contact_email)}</a>')
    if privacy.postal_address:
        contact += f", {escape(privacy.postal_address)}"
    return contact + ".</p>"
