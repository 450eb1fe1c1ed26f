"""The trust view (the trust's safeguarding leads only): every school side by side over a
period, and the trust's totals: lessons, breaches by rule, how fast SLT acknowledged their
alerts (median and 90th percentile), findings that could not be verified, coverage (sessions
followed live against those seen only afterwards), and the lessons no school claimed ('school
unknown'), listed so a lead can see why. Each school's figures are read with that school's
scope (the same SQL filters as its own pages), its days in its own time zone."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median

from config.policy import Policy
from domain.lesson import Lesson
from store.records import Scope

from .context import Ctx
from .html import e, empty, hm, day, link, query, section, table
from .rows import utc_bounds

CSV_COLUMNS = ("school_id", "school", "measure", "item", "value")
TRUST_ID = "(trust)"
UNKNOWN_LABEL = "School unknown"


@dataclass
class Figures:
    school_id: str
    name: str
    lessons: int = 0
    breaches: Counter = field(default_factory=Counter)  # rule -> lessons with that breach
    alerts: int = 0
    ack_minutes: list[float] = field(default_factory=list)
    not_acknowledged: int = 0
    unverified_findings: int = 0
    unverified_lessons: set = field(default_factory=set)
    with_pupils: int = 0
    followed_live: int = 0
    seen_afterwards: int = 0
    could_not_enrol: int = 0

    @property
    def p50(self) -> float | None:
        return median(self.ack_minutes) if self.ack_minutes else None

    @property
    def p90(self) -> float | None:
        return percentile(self.ack_minutes, 0.9)

    def add(self, other: "Figures") -> None:
        for name in ("lessons", "alerts", "not_acknowledged", "unverified_findings", "with_pupils", "followed_live",
                     "seen_afterwards", "could_not_enrol"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.breaches.update(other.breaches)
        self.ack_minutes.extend(other.ack_minutes)
        self.unverified_lessons |= {(other.school_id, i) for i in other.unverified_lessons}


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile: the smallest value with at least q of them at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def default_range(today: date) -> tuple[date, date]:
    """The last 30 days, today included."""
    return today - timedelta(days=29), today


async def school_figures(ctx: Ctx, policy: Policy, start: date, end: date, label: str) -> Figures:
    scope = Scope(school_id=policy.school.id)
    zone = policy.school.zone
    lo, hi = utc_bounds(start, end, zone)
    records = ctx.records
    f = Figures(policy.school.id, label)
    f.lessons = len(await records.lesson_times_between(lo, hi, scope))
    f.breaches = Counter(rule for _, rule in set(await records.breaches_between(lo, hi, scope)))
    for message, state in await records.alerts_between(lo, hi, scope):
        f.alerts += 1
        if state and state.acknowledged_at:
            f.ack_minutes.append(max(0.0, (state.acknowledged_at - message.created_at).total_seconds() / 60))
        else:
            f.not_acknowledged += 1
    for _, finding in await records.unverified_between(lo, hi, scope):
        f.unverified_findings += 1
        f.unverified_lessons.add(finding.lesson_id)
    if ctx.services.coverage is not None:
        for row in await ctx.services.coverage.between(start, end, zone, school_id=policy.school.id):
            f.with_pupils += row.sessions_with_pupils
            f.followed_live += row.followed_live
            f.seen_afterwards += row.seen_afterwards
            f.could_not_enrol += row.could_not_enrol
    return f


async def figures(ctx: Ctx, start: date, end: date) -> tuple[list[Figures], Figures, list[Lesson]]:
    """Each school's figures (the default policy's last: its 'school unknown' lessons), the
    trust's totals, and the lessons no school claimed."""
    schools = ctx.services.schools
    default = schools.default
    # The default policy's record is the lessons no school claimed: named so, not by its [school] name.
    each = [await school_figures(ctx, policy, start, end, UNKNOWN_LABEL if policy is default else policy.school.name)
            for policy in schools.all_policies()]
    total = Figures(TRUST_ID, f"{schools.name}: all schools")
    for f in each:
        total.add(f)
    lo, hi = utc_bounds(start, end, default.school.zone)
    unknown = await ctx.records.unplaced_between(lo, hi, default.school.id)
    return each, total, unknown


def _minutes(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


def _row(f: Figures, *, total: bool = False) -> tuple:
    rules = ", ".join(f"{rule} ({n})" for rule, n in sorted(f.breaches.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
    name = f"<strong>{e(f.name)}</strong>" if total else e(f.name)
    return (name, e(f.lessons), e(rules), e(f.alerts), e(f"{len(f.ack_minutes)}: {_minutes(f.p50)} / {_minutes(f.p90)}"),
            e(f.not_acknowledged), e(f"{f.unverified_findings} in {len(f.unverified_lessons)} lessons"),
            e(f"{f.followed_live} live · {f.seen_afterwards} unmonitored of {f.with_pupils}"), e(f.could_not_enrol))


async def render(ctx: Ctx, start: date, end: date) -> str:
    each, total, unknown = await figures(ctx, start, end)
    default = ctx.services.schools.default
    form = ('<form class="filters no-print" data-get action="/tab/trust">'
            f'<label>From <input type="date" name="from" value="{e(start.isoformat())}" required></label>'
            f'<label>To <input type="date" name="to" value="{e(end.isoformat())}" required></label>'
            '<button type="submit">Show</button><button type="button" class="secondary" data-print>Print</button>'
            f'<a class="button secondary" href="{e(query("/tab/api/trust.csv", {"from": start.isoformat(), "to": end.isoformat()}))}" '
            'data-download="trust.csv">Download CSV</a></form>')
    headers = ["School", "Lessons", "Breaches by rule (lessons)", "SLT alerts", "Acknowledged (median / p90)", "Not acknowledged",
               "Could not verify", "Coverage (sessions with pupils)", "Could not enrol"]
    rows = [_row(f) for f in each] + [_row(total, total=True)]
    overview = table(headers, rows, cls="trust", caption=f"{start.isoformat()} to {end.isoformat()}")
    zone = default.school.zone
    listing = (table(["Lesson", "When", "Organiser", "Why no school claimed it"], [
        (link(query(f"/tab/lesson/{l.id}", {"school": l.school_id}), l.title or "Untitled meeting"),
         e(f"{day(l.actual_start or l.scheduled_start, zone)} {hm(l.actual_start, zone)}"),
         e(l.organizer_name or l.organizer_aad_id or "unknown"), e(l.placement_reason or "")) for l in unknown], cls="unknown-school")
        if unknown else empty("Every lesson in this period was placed in a school."))
    note = (f'<p class="muted">Lessons no school claimed are kept under, and judged by, {e(default.school.name)}; '
            "each school's days are counted in its own time zone.</p>")
    return form + section("Schools", overview + note, id_="schools") + section(f"School unknown ({len(unknown)})", listing, id_="unknown")


async def csv_rows(ctx: Ctx, start: date, end: date) -> list[tuple]:
    """school_id, school, measure, item, value: one line per figure, each school's then the trust's."""
    each, total, unknown = await figures(ctx, start, end)
    out: list[tuple] = []
    for f in each + [total]:
        who = (f.school_id, f.name)
        out += [(*who, "lessons", "", f.lessons)]
        out += [(*who, "breaches by rule", rule, n) for rule, n in sorted(f.breaches.items())]
        out += [(*who, "slt alerts", "", f.alerts), (*who, "acknowledged", "count", len(f.ack_minutes)),
                (*who, "acknowledged", "not acknowledged", f.not_acknowledged),
                (*who, "minutes to acknowledge", "median", "" if f.p50 is None else round(f.p50, 1)),
                (*who, "minutes to acknowledge", "p90", "" if f.p90 is None else round(f.p90, 1)),
                (*who, "could not verify", "findings", f.unverified_findings),
                (*who, "could not verify", "lessons", len(f.unverified_lessons)),
                (*who, "coverage", "sessions with pupils", f.with_pupils), (*who, "coverage", "followed live", f.followed_live),
                (*who, "coverage", "seen only afterwards", f.seen_afterwards), (*who, "coverage", "could not enrol", f.could_not_enrol)]
    out += [(l.school_id, UNKNOWN_LABEL, "school unknown", f"lesson {l.id}: {l.title or 'Untitled meeting'}", l.placement_reason or "")
            for l in unknown]
    return out
