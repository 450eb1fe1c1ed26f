"""The lesson's timeline as an inline SVG: one lane per person (staff, pupils, external people
highlighted, unidentified), spells with pupils and too few staff shaded, the time the lobby
was open shaded, settings changes and breaches marked. Pure: a lesson in, markup out.

SVG rather than a chart library: nothing to load at run time, it prints, and it scales to the
width of a phone (the lanes' labels stay readable because the drawing scrolls sideways there)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.findings import Status, StoredFinding
from domain.lesson import Attendance, Lesson, PersonClass
from domain.meeting import LobbyScope, MeetingSettings

from .html import e

WIDTH = 760
LABEL = 190  # the lanes' names
RIGHT = 12
TOP = 34  # the time axis and markers
LANE = 24
BAR = 14
ORDER = {PersonClass.staff: 0, PersonClass.pupil: 1, PersonClass.external: 2, PersonClass.unknown: 3}


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime
    label: str


def lesson_window(lesson: Lesson, now: datetime) -> tuple[datetime, datetime] | None:
    times = [t for a in lesson.attendance for t in (a.joined_at, a.left_at) if t]
    start = lesson.actual_start or (min(times) if times else None)
    end = lesson.actual_end or (now if lesson.actual_start and lesson.status.value == "open" else (max(times) if times else None))
    if start is None or end is None or end <= start:
        return None
    return start, end


def _interval(a: Attendance, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    return max(a.joined_at or start, start), min(a.left_at or end, end)


def understaffed(lesson: Lesson, start: datetime, end: datetime, minimum: int) -> list[Span]:
    """Spells with pupils present and fewer than `minimum` staff."""
    points = sorted({start, end, *(t for a in lesson.attendance for t in _interval(a, start, end))})
    spans: list[Span] = []
    for a, b in zip(points, points[1:]):
        mid = a + (b - a) / 2
        present = [p for p in lesson.attendance if _interval(p, start, end)[0] <= mid < _interval(p, start, end)[1]]
        staff = {p.person_id for p in present if p.classification is PersonClass.staff}
        pupils = {p.person_id for p in present if p.classification is PersonClass.pupil}
        if pupils and len(staff) < minimum:
            if spans and spans[-1].end == a:
                spans[-1] = Span(spans[-1].start, b, spans[-1].label)
            else:
                spans.append(Span(a, b, f"fewer than {minimum} staff with pupils"))
    return spans


def lobby_open(lesson: Lesson, start: datetime, end: datetime, allowed: tuple[LobbyScope, ...]) -> list[Span]:
    """When the meeting's lobby let people past it (its scope not one the policy allows)."""
    history = sorted(lesson.settings_history, key=lambda o: o.observed_at)
    spans: list[Span] = []
    for i, seen in enumerate(history):
        until = history[i + 1].observed_at if i + 1 < len(history) else end
        a, b = max(seen.observed_at, start), min(until, end)
        if i == 0:
            a = start  # the first read describes the meeting as it was set up
        if b > a and seen.settings.lobby_scope not in allowed:
            spans.append(Span(a, b, f"lobby bypassed by {seen.settings.lobby_scope.value}"))
    return spans


def settings_changes(lesson: Lesson) -> list[tuple[datetime, str]]:
    """Each observed change after the first read, with what changed."""
    history = sorted(lesson.settings_history, key=lambda o: o.observed_at)
    out = []
    for before, after in zip(history, history[1:]):
        out.append((after.observed_at, describe_change(before.settings, after.settings)))
    return out


def describe_change(before: MeetingSettings, after: MeetingSettings) -> str:
    fields = {"lobby_scope": "lobby", "allowed_presenters": "presenters", "chat": "chat", "attendee_mic_allowed": "mics",
              "attendee_camera_allowed": "cameras", "record_automatically": "recording", "allow_recording": "recording allowed"}
    changed = [f"{label} {getattr(after, name).value if hasattr(getattr(after, name), 'value') else getattr(after, name)}"
               for name, label in fields.items() if getattr(before, name) != getattr(after, name)]
    return ", ".join(changed) or "settings read again"


def _ticks(start: datetime, end: datetime) -> list[datetime]:
    span = (end - start).total_seconds() / 60
    step = next(s for s in (5, 10, 15, 30, 60, 120, 240, 480, 1440) if span / s <= 8)
    first = start.replace(second=0, microsecond=0)
    first += timedelta(minutes=(-first.minute) % step)
    ticks = []
    t = first
    while t <= end:
        ticks.append(t)
        t += timedelta(minutes=step)
    return ticks


def render(lesson: Lesson, findings: list[StoredFinding], *, zone: ZoneInfo, now: datetime, minimum_staff: int,
           allowed_lobby: tuple[LobbyScope, ...]) -> str:
    window = lesson_window(lesson, now)
    if window is None:
        return '<p class="empty">No one has been seen in this lesson yet, so there is no timeline.</p>'
    start, end = window
    lanes: dict[str, list[Attendance]] = {}
    for a in lesson.attendance:
        lanes.setdefault(a.person_id, []).append(a)
    order = sorted(lanes.values(), key=lambda rows: (
        rows[0].aad_object_id != lesson.organizer_aad_id, ORDER[rows[0].classification],
        min((r.joined_at or start) for r in rows), rows[0].display_name or ""))
    height = TOP + LANE * len(order) + 8
    span = (end - start).total_seconds()

    def x(t: datetime) -> float:
        return round(LABEL + (WIDTH - LABEL - RIGHT) * max(0.0, min(1.0, (t - start).total_seconds() / span)), 1)

    parts = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="tl-title tl-desc" '
             f'preserveAspectRatio="xMinYMin meet">',
             f'<title id="tl-title">Who was present when, {e(start.astimezone(zone).strftime("%H:%M"))} to '
             f'{e(end.astimezone(zone).strftime("%H:%M"))}</title>',
             '<desc id="tl-desc">One lane per person; shaded areas mark spells with too few staff and times the lobby was open.</desc>']
    bottom = height - 8
    for s in understaffed(lesson, start, end, minimum_staff):
        parts.append(_shade("shade-understaffed", x(s.start), x(s.end), bottom, s, zone))
    for s in lobby_open(lesson, start, end, allowed_lobby):
        parts.append(_shade("shade-lobby", x(s.start), x(s.end), bottom, s, zone))
    for t in _ticks(start, end):
        parts.append(f'<line class="tick" x1="{x(t)}" y1="{TOP - 6}" x2="{x(t)}" y2="{bottom}"/>'
                     f'<text class="tick-label" x="{x(t)}" y="{TOP - 10}" text-anchor="middle">{e(t.astimezone(zone).strftime("%H:%M"))}</text>')
    for i, rows in enumerate(order):
        first = rows[0]
        y = TOP + i * LANE
        kind = first.classification.value
        name = first.display_name or first.person_id
        role = " (organiser)" if first.aad_object_id and first.aad_object_id == lesson.organizer_aad_id else ""
        parts.append(f'<g class="lane lane-{e(kind)}">')
        parts.append(f'<text class="lane-label" x="{LABEL - 8}" y="{y + LANE / 2 + 4}" text-anchor="end">'
                     f'{e(_short(name))}<title>{e(name)}: {e(kind)}{e(role)}</title></text>')
        for a in rows:
            a0, a1 = _interval(a, start, end)
            if a1 <= a0:
                continue
            w = max(1.5, x(a1) - x(a0))
            tip = f"{name} ({kind}{role}) {a0.astimezone(zone):%H:%M}-{a1.astimezone(zone):%H:%M}"
            parts.append(f'<rect class="bar bar-{e(kind)}" x="{x(a0)}" y="{y + (LANE - BAR) / 2}" width="{round(w, 1)}" '
                         f'height="{BAR}" rx="3"><title>{e(tip)}</title></rect>')
        parts.append("</g>")
    for when, what in settings_changes(lesson):
        if start <= when <= end:
            parts.append(f'<line class="marker-settings" x1="{x(when)}" y1="{TOP - 4}" x2="{x(when)}" y2="{bottom}">'
                         f'<title>{e(when.astimezone(zone).strftime("%H:%M"))} settings changed: {e(what)}</title></line>'
                         f'<text class="marker-settings-label" x="{x(when) + 3}" y="{bottom - 2}">&#9881; {e(what)}</text>')
    for f in findings:
        if f.status is Status.failed and f.first_failed_at and start <= f.first_failed_at <= end:
            at = x(f.first_failed_at)
            parts.append(f'<g class="marker-breach"><line x1="{at}" y1="{TOP - 4}" x2="{at}" y2="{bottom}"/>'
                         f'<path d="M{at - 5} {TOP - 4} L{at + 5} {TOP - 4} L{at} {TOP + 4} Z"/>'
                         f'<title>{e(f.first_failed_at.astimezone(zone).strftime("%H:%M"))} {e(f.rule_id)}: {e(f.message)}</title></g>')
    parts.append("</svg>")
    return "".join(parts)


def _shade(cls: str, x0: float, x1: float, bottom: float, s: Span, zone: ZoneInfo) -> str:
    return (f'<rect class="{cls}" x="{x0}" y="{TOP - 4}" width="{max(1.0, round(x1 - x0, 1))}" height="{bottom - TOP + 4}">'
            f'<title>{e(s.start.astimezone(zone).strftime("%H:%M"))}-{e(s.end.astimezone(zone).strftime("%H:%M"))}: {e(s.label)}</title></rect>')


def _short(name: str) -> str:
    return name if len(name) <= 24 else name[:23] + "…"


LEGEND = (
    '<ul class="legend" aria-label="Key">'
    '<li><span class="key key-staff"></span>staff</li>'
    '<li><span class="key key-pupil"></span>pupil</li>'
    '<li><span class="key key-external"></span>external (another organisation or a guest)</li>'
    '<li><span class="key key-unknown"></span>not identified</li>'
    '<li><span class="key key-understaffed"></span>pupils with too few staff</li>'
    '<li><span class="key key-lobby"></span>lobby open</li>'
    '<li><span class="key key-breach"></span>breach found</li>'
    '<li><span class="key key-settings"></span>settings changed</li>'
    "</ul>"
)
