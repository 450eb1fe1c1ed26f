"""One log line, without a traceback, for HTTP a client got wrong.

aiohttp logs a request it cannot parse (a header over 8 KiB, a bad request line) at ERROR
with a traceback, and answers 400. That is the client's fault, not Chaperone's: a warning of
one line, with neither the traceback nor the offending bytes (a token, a person's words)."""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import HttpProcessingError


class OneLineClientErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg = f"refused malformed HTTP from %s: {type(exc).__name__} ({exc.code})"
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def install() -> None:
    server = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, OneLineClientErrors) for f in server.filters):
        server.addFilter(OneLineClientErrors())
