"""The organizer's note on the meeting stage: a small page only a signed link opens.

Targeted in-meeting notifications show a web page (not a card) to the people named, so the
organizer's warning is served here, at /notes/{message id}?sig=..., signed with a key only
Chaperone holds. Nobody without the link can read it, and the link goes to the organizer only.
"""

from __future__ import annotations

import hashlib
import hmac
from html import escape

from aiohttp import web

from domain.findings import StoredFinding
from domain.messages import MessageKind
from rules.registry import BY_ID
from store.findings import FindingStore
from store.lessons import LessonStore
from store.outbox import Outbox


def signature(key: bytes, message_id: int) -> str:
    return hmac.new(key, f"note:{message_id}".encode(), hashlib.sha256).hexdigest()[:32]


def note_url(public_url: str, key: bytes, message_id: int) -> str:
    return f"{public_url.rstrip('/')}/notes/{message_id}?sig={signature(key, message_id)}"


def valid(key: bytes, message_id: int, sig: str) -> bool:
    return hmac.compare_digest(signature(key, message_id), sig or "")


def note_page(lesson_title: str | None, findings: list[StoredFinding]) -> web.Response:
    items = "".join(
        f"<li><strong>{escape(BY_ID[f.rule_id].title)}</strong> ({escape(f.severity.value)})<br>"
        f"{escape(f.message)}<br><em>What to do:</em> {escape(BY_ID[f.rule_id].remediation)}</li>"
        for f in findings
    )
    html = (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Chaperone</title>"
        "<body style='font-family:Segoe UI,sans-serif;margin:16px'>"
        f"<h1 style='font-size:18px'>Action needed: {escape(lesson_title or 'this lesson')}</h1>"
        f"<ul>{items}</ul><p style='color:#555'>Only you can see this note.</p></body></html>"
    )
    return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})


class Notes:
    """GET /notes/{message_id}?sig=...: the organizer's warning, for a valid link only."""

    def __init__(self, *, key: bytes, outbox: Outbox, findings: FindingStore, lessons: LessonStore) -> None:
        self._key = key
        self._outbox = outbox
        self._findings = findings
        self._lessons = lessons

    async def page(self, request: web.Request) -> web.Response:
        try:
            message_id = int(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not valid(self._key, message_id, request.query.get("sig", "")):
            raise web.HTTPForbidden(text="This link is not valid.")
        message = await self._outbox.get(message_id)
        if message is None or message.kind is not MessageKind.teacher_warning:
            raise web.HTTPNotFound()
        if message.raised is not None:
            findings = [r.finding for r in message.raised]  # as raised, whatever the verdict says now
        else:
            wanted = set(message.finding_ids)
            findings = [f for f in await self._findings.for_lesson(message.lesson_id) if f.id in wanted]
        lesson = await self._lessons.get(message.lesson_id, with_attendance=False)
        return note_page(lesson.title, findings)
