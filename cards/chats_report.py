"""The DSL's weekly list of one-to-one Teams chats between staff and pupils (who and when, never what)."""

from __future__ import annotations

from datetime import datetime

from config.policy import Policy
from domain.findings import Finding, Status

from .common import card, facts, heading, local_time, text


def chats_report_card(policy: Policy, finding: Finding, since: datetime, until: datetime) -> dict:
    zone = policy.school.zone
    period = f"{local_time(since, zone, '%d %B')} to {local_time(until, zone, '%d %B %Y')}"
    body = [
        heading("One-to-one chats between staff and pupils", color="Attention" if finding.status is Status.failed else None),
        text(f"{period}. Chaperone reads who took part and when, never what was said.", subtle=True),
        text(finding.message, spacing="Medium"),
    ]
    for chat in finding.details.get("chats", []):
        when = [("Started", _day(chat["created"], zone)), ("Last activity", _day(chat["last_activity"], zone))]
        body += [text(f"{chat['staff']} and {chat['pupil']}", weight="Bolder", spacing="Medium"), facts(when)]
    body.append(text("The policy: pupils talk to staff through pre-arranged live lessons or school email, with parents "
                     "copied in where possible.", subtle=True, spacing="Medium"))
    return card(body)


def _day(value: str | None, zone) -> str:
    return local_time(datetime.fromisoformat(value), zone, "%d %B %Y, %H:%M") if value else "unknown"
