"""The CSV exports (lessons, attendance, findings, concerns, audit): one set of columns for the
tab's downloads and `python app.py export`, produced a page at a time as text chunks. Each is
of one school (in a trust) and, for a teacher, of their own lessons: the scope is in the SQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from config.policy import Policy
from domain.records import ExportKind, RegisterFilter, RegisterRow
from store.exports import Exports
from store.records import Records, Scope

from .rows import register_rows, utc_bounds

COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.lessons: ("lesson_id", "date", "start", "end", "minutes", "title", "organizer", "organizer_entra_id", "class",
                         "staff", "pupils", "external", "state", "verdict", "failed_rules", "could_not_verify"),
    ExportKind.attendance: ("lesson_id", "lesson_title", "lesson_start", "person", "entra_object_id", "meeting_role",
                            "classification", "joined", "left", "minutes", "source"),
    ExportKind.findings: ("lesson_id", "lesson_title", "lesson_start", "rule", "status", "severity", "message", "reason",
                          "first_failed", "evaluated"),
    ExportKind.concerns: ("concern_id", "reported", "lesson_id", "lesson_title", "reporter", "reporter_entra_id", "text",
                          "status", "status_by", "status_at", "note"),
    ExportKind.audit: ("id", "at", "actor", "actor_name", "action", "target", "details"),
}


def cell(value: object, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(zone).isoformat(timespec="seconds")
    if isinstance(value, (tuple, list)):
        return " ".join(map(str, value))
    text = str(getattr(value, "value", value))
    # A cell a spreadsheet would run as a formula (a display name like "=HYPERLINK(...)") is
    # written as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def lesson_cells(r: RegisterRow) -> tuple:
    return (r.lesson_id, r.day.isoformat() if r.day else None, r.start, r.end, r.minutes, r.title, r.organizer,
            r.organizer_aad_id, r.class_label, r.staff, r.pupils, r.external, r.state, r.verdict, r.breaches, r.unverified)


def _text(rows: Iterable[Sequence[object]], zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([cell(v, zone) for v in row])
    return out.getvalue()


class CsvExport:
    def __init__(self, records: Records, exports: Exports) -> None:
        self._records = records
        self._exports = exports

    async def chunks(self, kind: ExportKind, filt: RegisterFilter, policy: Policy, scope: Scope, counter: list[int] | None = None,
                     *, unowned_audit: bool = False) -> AsyncIterator[str]:
        """The CSV text, header first, a page of rows per chunk, of what `scope` may see (one
        school's records, perhaps one teacher's lessons); days and times in `policy`'s (that
        school's) zone. `unowned_audit`: the audit log's entries of no school too (the trust's
        leads). `counter[0]` counts rows."""
        zone = policy.school.zone
        count = counter if counter is not None else [0]
        yield _text([COLUMNS[kind]], zone)
        async for page in self._pages(kind, filt, policy, scope, unowned_audit):
            count[0] += len(page)
            yield _text(page, zone)

    async def _pages(self, kind: ExportKind, filt: RegisterFilter, policy: Policy, scope: Scope, unowned_audit: bool) -> AsyncIterator[list[tuple]]:
        start, end = utc_bounds(filt.start, filt.end, policy.school.zone)
        if kind is ExportKind.lessons:
            page: list[tuple] = []
            async for row in register_rows(self._records, policy, filt, scope):
                page.append(lesson_cells(row))
                if len(page) >= 200:
                    yield page
                    page = []
            if page:
                yield page
        elif kind is ExportKind.attendance:
            async for rows in self._exports.attendance(start, end, scope):
                yield [(l.id, l.title, l.when, a.display_name, a.aad_object_id, a.meeting_role, a.classification, a.joined_at,
                        a.left_at, a.seconds // 60 if a.seconds is not None else None, a.source) for l, a in rows]
        elif kind is ExportKind.findings:
            async for rows in self._exports.findings(start, end, scope):
                yield [(l.id, l.title, l.when, f.rule_id, f.status, f.severity, f.message, f.reason, f.first_failed_at,
                        f.evaluated_at) for l, f in rows]
        elif kind is ExportKind.concerns:
            async for rows in self._exports.concerns(start, end, scope):
                yield [(c.id, c.created_at, c.lesson_id, c.lesson_title, c.reporter_name, c.reporter_aad_id, c.text, c.status,
                        c.status_by, c.status_at, c.note) for c in rows]
        else:
            async for rows in self._exports.audit(start, end, scope, unowned_too=unowned_audit):
                yield [(a.id, a.at, a.actor, a.actor_name, a.action, a.target, json.dumps(a.details, sort_keys=True)) for a in rows]
