"""Review: what the DfE's filtering and monitoring standards ask SLT, the DSL and the governor
to review at least once a year, per month: breaches raised by rule, who saw each alert and how
fast, what followed (an exception, resolved, still open), and lessons that could not be
verified and why. Printable (tab.css has a print stylesheet) and as CSV."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

from .context import Ctx
from .html import e, empty, table
from .rows import utc_bounds


@dataclass
class Month:
    label: str  # 2026-11
    lessons: int = 0
    alerts: int = 0
    by_rule: Counter = field(default_factory=Counter)
    ack_minutes: list[float] = field(default_factory=list)
    acknowledged_by: Counter = field(default_factory=Counter)
    not_acknowledged: int = 0
    exception: int = 0
    resolved: int = 0
    cleared: int = 0
    still_open: int = 0
    unverified_lessons: set = field(default_factory=set)
    unverified_reasons: Counter = field(default_factory=Counter)

    @property
    def p50(self) -> float | None:
        return median(self.ack_minutes) if self.ack_minutes else None

    @property
    def worst(self) -> float | None:
        return max(self.ack_minutes) if self.ack_minutes else None


def default_range(today: date) -> tuple[date, date]:
    """The twelve months to the end of this one."""
    first = today.replace(day=1)
    start = (first.replace(year=first.year - 1) + timedelta(days=32)).replace(day=1)
    end = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return start, end


async def figures(ctx: Ctx, start: date, end: date) -> list[Month]:
    zone = ctx.policy.school.zone
    lo, hi = utc_bounds(start, end, zone)
    months: dict[str, Month] = {}

    def month(at: datetime) -> Month:
        key = at.astimezone(zone).strftime("%Y-%m")
        return months.setdefault(key, Month(key))

    d = start.replace(day=1)
    while d <= end:
        months.setdefault(d.strftime("%Y-%m"), Month(d.strftime("%Y-%m")))
        d = (d + timedelta(days=32)).replace(day=1)
    for when in await ctx.records.lesson_times_between(lo, hi, ctx.scope):
        month(when).lessons += 1
    names = {p.aad_object_id: p.name for p in [*ctx.services.schools.leads, *ctx.policy.people.slt, *ctx.policy.people.dsl]}
    for message, state in await ctx.records.alerts_between(lo, hi, ctx.scope):
        m = month(message.created_at)
        m.alerts += 1
        for raised in message.raised or []:
            m.by_rule[raised.finding.rule_id] += 1
        if not message.raised:
            m.by_rule["(rule not kept with this alert)"] += 1
        if state and state.acknowledged_at:
            m.ack_minutes.append(max(0.0, (state.acknowledged_at - message.created_at).total_seconds() / 60))
            m.acknowledged_by[names.get(state.acknowledged_by or "", state.acknowledged_by or "unknown")] += 1
        else:
            m.not_acknowledged += 1
        if state and state.exception_id:
            m.exception += 1
        elif state and state.resolved_at:
            m.resolved += 1
        elif state and state.cleared_at:
            m.cleared += 1
        else:
            m.still_open += 1
    for when, finding in await ctx.records.unverified_between(lo, hi, ctx.scope):
        m = month(when)
        m.unverified_lessons.add(finding.lesson_id)
        m.unverified_reasons[(finding.reason or finding.message).removeprefix("could not verify: ")[:160]] += 1
    return [months[k] for k in sorted(months)]


def _minutes(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.0f} min" if value < 120 else f"{value / 60:.1f} h"


async def render(ctx: Ctx, start: date, end: date) -> str:
    data = await figures(ctx, start, end)
    form = (f'<form class="filters no-print" data-get action="/tab/review">{ctx.school_field}'
            f'<label>From <input type="date" name="from" value="{e(start.isoformat())}" required></label>'
            f'<label>To <input type="date" name="to" value="{e(end.isoformat())}" required></label>'
            '<button type="submit">Show</button>'
            '<button type="button" class="secondary" data-print>Print</button>'
            f'<a class="button secondary" href="{e(ctx.href("/tab/api/review.csv", {"from": start.isoformat(), "to": end.isoformat()}))}" '
            'data-download="review.csv">Download CSV</a></form>')
    intro = (f'<p class="print-only">{e(ctx.policy.school.name)}: live lesson monitoring, {e(start.isoformat())} to {e(end.isoformat())}. '
             f"Printed by {e(ctx.viewer.name)}.</p>")
    overview = table(["Month", "Lessons", "Alerts", "Acknowledged (p50 / worst)", "Exception", "Resolved", "Cleared", "Still open",
                      "Could not verify"], [
        (e(m.label), e(m.lessons), e(m.alerts), e(f"{len(m.ack_minutes)}: {_minutes(m.p50)} / {_minutes(m.worst)}"), e(m.exception),
         e(m.resolved), e(m.cleared), e(m.still_open), e(len(m.unverified_lessons))) for m in data], cls="review")
    details = []
    for m in data:
        if not (m.alerts or m.unverified_lessons):
            continue
        rules = ", ".join(f"{rule} ({n})" for rule, n in m.by_rule.most_common()) or "none"
        who = ", ".join(f"{name} ({n})" for name, n in m.acknowledged_by.most_common()) or "nobody"
        reasons = "".join(f"<li>{e(reason)} ({n})</li>" for reason, n in m.unverified_reasons.most_common(8))
        details.append(f'<article class="month"><h3>{e(m.label)}</h3><p><strong>Breaches raised by rule:</strong> {e(rules)}</p>'
                       f"<p><strong>Acknowledged by:</strong> {e(who)}; not acknowledged: {m.not_acknowledged}</p>"
                       + (f"<p><strong>Could not verify, why:</strong></p><ul>{reasons}</ul>" if reasons else "") + "</article>")
    return form + intro + overview + ("".join(details) or empty("No alerts and nothing unverified in this period."))


async def csv_rows(ctx: Ctx, start: date, end: date) -> list[tuple]:
    """month, measure, item, value: one line per figure, for a spreadsheet's pivot table."""
    out: list[tuple] = []
    for m in await figures(ctx, start, end):
        out += [(m.label, "lessons", "", m.lessons), (m.label, "alerts", "", m.alerts)]
        out += [(m.label, "breaches by rule", rule, n) for rule, n in sorted(m.by_rule.items())]
        out += [(m.label, "acknowledged", "count", len(m.ack_minutes)), (m.label, "acknowledged", "not acknowledged", m.not_acknowledged),
                (m.label, "minutes to acknowledge", "p50", "" if m.p50 is None else round(m.p50, 1)),
                (m.label, "minutes to acknowledge", "worst", "" if m.worst is None else round(m.worst, 1))]
        out += [(m.label, "acknowledged by", name, n) for name, n in sorted(m.acknowledged_by.items())]
        out += [(m.label, "action", "exception", m.exception), (m.label, "action", "resolved", m.resolved),
                (m.label, "action", "cleared by Chaperone", m.cleared), (m.label, "action", "still open", m.still_open)]
        out.append((m.label, "lessons could not verify", "", len(m.unverified_lessons)))
        out += [(m.label, "could not verify, why", reason, n) for reason, n in sorted(m.unverified_reasons.items())]
    return out
