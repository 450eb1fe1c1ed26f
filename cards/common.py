"""The pieces every card is made of."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
MAX_BYTES = 28 * 1024  # Teams' limit for a message with a card


def card(body: list[dict], actions: list[dict] | None = None, refresh: dict | None = None) -> dict:
    out = {"$schema": SCHEMA, "type": "AdaptiveCard", "version": "1.5", "body": body}
    if actions:
        out["actions"] = actions
    if refresh:
        out["refresh"] = refresh
    return out


def text(value: str, *, size: str | None = None, weight: str | None = None, color: str | None = None,
         subtle: bool = False, spacing: str | None = None) -> dict:
    block = {"type": "TextBlock", "text": value, "wrap": True}
    for key, item in (("size", size), ("weight", weight), ("color", color), ("spacing", spacing)):
        if item:
            block[key] = item
    if subtle:
        block["isSubtle"] = True
    return block


def heading(value: str, color: str | None = None) -> dict:
    return text(value, size="Large", weight="Bolder", color=color)


def facts(pairs: list[tuple[str, str]]) -> dict:
    return {"type": "FactSet", "facts": [{"title": title, "value": value} for title, value in pairs]}


def bullets(items: list[str]) -> dict:
    return text("\n".join(f"- {item}" for item in items))


def execute(title: str, verb: str, data: dict | None = None, style: str | None = None) -> dict:
    action = {"type": "Action.Execute", "title": title, "verb": verb, "data": data or {}}
    if style:
        action["style"] = style
    return action


def refresh_for(user_ids: list[str], verb: str, data: dict) -> dict:
    """Teams asks the bot for a per-user view of the card for these users (at most 60)."""
    return {"action": {"type": "Action.Execute", "title": "Refresh", "verb": verb, "data": data}, "userIds": user_ids[:60]}


def local_time(moment: datetime | None, zone: ZoneInfo, fmt: str = "%H:%M") -> str:
    return moment.astimezone(zone).strftime(fmt) if moment else "unknown"
