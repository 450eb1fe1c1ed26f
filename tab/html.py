"""Small HTML helpers: every value goes through `e()` (escaped), times are shown in the
school's zone, and tables carry data-label attributes so they stack at 320 px."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from urllib.parse import urlencode
from zoneinfo import ZoneInfo


def e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def hm(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%H:%M") if value else "?"


def day(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%a %d %b %Y") if value else "date unknown"


def stamp(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%d %b %Y %H:%M") if value else ""


def link(href: str, text: str, *, cls: str = "") -> str:
    return f'<a href="{e(href)}" data-nav{f" class={chr(34)}{e(cls)}{chr(34)}" if cls else ""}>{e(text)}</a>'


def query(path: str, params: dict[str, object]) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def badge(kind: str, text: str) -> str:
    return f'<span class="badge badge-{e(kind)}">{e(text)}</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, cls: str = "", caption: str | None = None) -> str:
    """`rows` hold HTML already escaped (cells are built with e() or the helpers above)."""
    head = "".join(f"<th scope='col'>{e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td data-label="{e(h)}">{cell}</td>' for h, cell in zip(headers, row)) + "</tr>" for row in rows
    )
    cap = f"<caption>{e(caption)}</caption>" if caption else ""
    return f'<div class="table-wrap"><table class="stack {e(cls)}">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def section(title: str, body: str, *, id_: str = "") -> str:
    anchor = f' id="{e(id_)}"' if id_ else ""
    return f"<section{anchor}><h2>{e(title)}</h2>{body}</section>"


def empty(text: str) -> str:
    return f'<p class="empty">{e(text)}</p>'
