"""An HTTP error body in one short line, for logs and the lesson record.

Teams' services answer errors with JSON (`{"error": {"code", "message"}}`) or, from a proxy or
gateway, a whole HTML page; neither belongs pasted whole into a log or a finding.
"""

from __future__ import annotations

import json
import re
from html import unescape

LIMIT = 160


def summarise(body: str) -> str:
    """'NotFound: meeting not found', a page's <title>, or the first line, at most LIMIT characters."""
    text = body.strip()
    if not text:
        return "no body"
    try:
        payload = json.loads(text)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            parts = [str(error[k]) for k in ("code", "message") if isinstance(error.get(k), (str, int)) and str(error[k]).strip()]
            if parts:
                return _short(": ".join(parts))
    if "<" in text and ">" in text:
        title = re.search(r"<title[^>]*>(.*?)</title>", text, flags=re.I | re.S)
        words = title.group(1) if title and title.group(1).strip() else re.sub(r"<[^>]+>", " ", text)
        return _short("HTML page: " + unescape(words))
    return _short(text)


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= LIMIT else line[: LIMIT - 1] + "…"
