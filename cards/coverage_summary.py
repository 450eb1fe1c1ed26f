"""The daily coverage summary to SLT: sessions with pupils, how each was seen, and the
unmonitored ones by name (organizer, time), with the meetings Chaperone could not enrol in."""

from __future__ import annotations

from datetime import date, datetime

from config.policy import Policy
from domain.enrolment import CoverageRow

from .common import bullets, card, facts, heading, local_time, text


def coverage_card(policy: Policy, day: date, rows: list[CoverageRow], unmonitored: list[tuple[int, str, str, datetime]]) -> dict:
    zone = policy.school.zone
    total = sum(r.sessions_with_pupils for r in rows)
    live = sum(r.followed_live for r in rows)
    body = [
        heading(f"Coverage: {day:%A %d %B %Y}", color="Attention" if unmonitored else None),
        text(f"{total} session(s) with pupils: {live} followed live, {len(unmonitored)} seen only afterwards (unmonitored).",
             spacing="Medium"),
    ]
    if unmonitored:
        body.append(text("Unmonitored sessions (nobody added Chaperone; found in Teams' call records):", weight="Bolder", spacing="Medium"))
        body.append(bullets([f"{title}, organised by {organizer}, at {local_time(start, zone)} (lesson #{lesson_id})"
                             for lesson_id, title, organizer, start in unmonitored]))
    for row in rows:
        body.append(text(row.teacher, weight="Bolder", spacing="Medium"))
        body.append(facts([("With pupils", str(row.sessions_with_pupils)), ("Followed live", str(row.followed_live)),
                           ("Seen afterwards", str(row.seen_afterwards)), ("Could not enrol", str(row.could_not_enrol))]))
        if row.reasons:
            body.append(bullets(list(row.reasons)))
    return card(body)
