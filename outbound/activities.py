"""A card as a Bot Framework message activity."""

from __future__ import annotations

from botbuilder.schema import Activity, Attachment

from cards.common import CONTENT_TYPE


def card_activity(card: dict, summary: str) -> Activity:
    return Activity(type="message", summary=summary, attachments=[Attachment(content_type=CONTENT_TYPE, content=card)])
