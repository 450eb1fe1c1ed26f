"""Exceptions: the register with expiry; SLT and the DSL add and withdraw exceptions here, by
the same rules as `python app.py exceptions` (domain/exception_rules.py), audited the same way."""

from __future__ import annotations

from datetime import date

from domain.exception_rules import ExceptionProblem, ExceptionRefused, checked_exception, lesson_id_in_range
from rules.registry import RULES
from store.register import ApprovalRefused, Revocation

from .context import Ctx
from .html import e, empty, link, section, stamp, table

WORDS = {
    ExceptionProblem.empty_reason: "Say why the exception was approved: the reason is empty.",
    ExceptionProblem.not_one_scope: "Give exactly one of a lesson, a meeting (series) or a person.",
    ExceptionProblem.no_such_lesson: "There is no lesson with that number in the register.",
    ExceptionProblem.unknown_meeting: "No lesson of that meeting is recorded, and it is not a Teams meeting id.",
    ExceptionProblem.person_without_expiry: "An exception for a person covers every lesson they are in: give it a last day.",
    ExceptionProblem.expiry_passed: "The last day has passed: give the last day the exception applies.",
    ExceptionProblem.expiry_too_far: "The last day is too far in the future.",
}


def form(ctx: Ctx, message: str | None = None, values: dict[str, str] | None = None) -> str:
    v = values or {}
    rules = "".join(f'<option value="{e(r.id)}"{" selected" if v.get("rule") == r.id else ""}>{e(r.id)}: {e(r.title)}</option>' for r in RULES)
    scope = v.get("scope", "lesson")
    scopes = "".join(f'<option value="{s}"{" selected" if s == scope else ""}>{label}</option>'
                     for s, label in (("lesson", "one lesson (its number)"), ("meeting", "a series (Teams meeting id)"), ("person", "a person (Entra object id)")))
    problem = f'<p class="notice" role="alert">{e(message)}</p>' if message else ""
    return (
        f'{problem}<form class="stacked" method="post" action="{e(ctx.href("/tab/api/exceptions"))}" data-post>'
        f'<label>Rule <select name="rule" required>{rules}</select></label>'
        f'<label>Applies to <select name="scope">{scopes}</select></label>'
        f'<label>Lesson number, meeting id or person <input name="target" required value="{e(v.get("target", ""))}"></label>'
        f'<label>Reason <textarea name="reason" required rows="2">{e(v.get("reason", ""))}</textarea></label>'
        f'<label>Last day it applies <input type="date" name="expires" value="{e(v.get("expires", ""))}"></label>'
        '<button type="submit">Record approved exception</button></form>')


async def render(ctx: Ctx, message: str | None = None, values: dict[str, str] | None = None, done: str | None = None) -> str:
    zone = ctx.policy.school.zone
    register = await ctx.services.exceptions.list(**ctx.school_kw)
    rows = []
    for x in reversed(register):
        scope = (link(ctx.href(f"/tab/lesson/{x.lesson_id}"), f"lesson {x.lesson_id}") if x.lesson_id else
                 e(f"series {x.meeting_id[:18]}…" if x.meeting_id and len(x.meeting_id) > 20 else f"series {x.meeting_id}") if x.meeting_id else
                 e(f"person {x.person_id}"))
        now_active = x.revoked_at is None and (x.expires_at is None or x.expires_at > ctx.now)
        state = "withdrawn" if x.revoked_at else ("active" if now_active else "expired")
        action = (f'<form method="post" action="{e(ctx.href(f"/tab/api/exceptions/{x.id}/withdraw"))}" data-post class="inline">'
                  f'<button type="submit" class="secondary">Withdraw</button></form>') if x.revoked_at is None and ctx.viewer.may_act else ""
        rows.append((e(x.id), f"<code>{e(x.rule_id)}</code>", scope, e(x.reason),
                     e(f"{x.approved_by_name or x.approved_by}, {stamp(x.approved_at, zone)}"),
                     e(stamp(x.expires_at, zone) or "no expiry"), e(state), action))
    ok = f'<p class="done" role="status">{e(done)}</p>' if done else ""
    listing = table(["#", "Rule", "For", "Reason", "Approved by", "Ends", "State", ""], rows) if rows else empty("No exceptions recorded.")
    adding = section("Record an approved exception", form(ctx, message, values)) if ctx.viewer.may_act else ""
    return ok + section("Register", listing) + adding


async def add(ctx: Ctx, data: dict[str, str]) -> tuple[bool, str]:
    """Record an exception the signed-in SLT member or DSL approved; (recorded?, words)."""
    register = ctx.services.exceptions
    rule = data.get("rule", "")
    if rule not in {r.id for r in RULES}:
        return False, "Choose a rule."
    target = data.get("target", "").strip()
    scope = data.get("scope", "lesson")
    lesson_id = meeting_id = person_id = None
    if scope == "lesson":
        if not target.isdigit():
            return False, "A lesson is given by its number (as on its page)."
        lesson_id = int(target)
    elif scope == "meeting":
        meeting_id = target
    elif scope == "person":
        person_id = target
    else:
        return False, "Choose what the exception applies to."
    try:
        expires = date.fromisoformat(data["expires"]) if data.get("expires") else None
    except ValueError:
        return False, "The last day is not a date."
    zone = ctx.policy.school.zone
    try:
        reason, ends = checked_exception(
            reason=data.get("reason", ""), lesson_id=lesson_id,
            # Only this school's lessons and series: another school's lesson is, here, no lesson.
            lesson_recorded=lesson_id is not None and lesson_id_in_range(lesson_id) and await ctx.records.may_see(lesson_id, ctx.scope),
            meeting_id=meeting_id, meeting_recorded=bool(meeting_id) and await ctx.records.meeting_seen(meeting_id, ctx.scope),
            person_id=person_id or None, expires=expires, today=ctx.now.astimezone(zone).date(), zone=zone)
    except ExceptionRefused as refused:
        return False, WORDS[refused.problem]
    if refused_to := ctx.policy.approval_refused(ctx.viewer.aad_object_id, rule):
        return False, f"{refused_to[0].upper()}{refused_to[1:]}. Nothing was recorded."
    try:
        approved = await register.approve(rule_id=rule, reason=reason, approver_id=ctx.viewer.aad_object_id, approver_name=ctx.viewer.name,
                                          lesson_id=lesson_id, meeting_id=meeting_id, person_id=person_id, expires_at=ends, **ctx.school_kw)
    except ApprovalRefused as refused:
        return False, f"{str(refused)[:1].upper()}{str(refused)[1:]}. Nothing was recorded."
    return True, f"Exception #{approved.id} recorded: {rule}, approved by {ctx.viewer.name}."


async def withdraw(ctx: Ctx, exception_id: int) -> tuple[bool, str]:
    outcome = await ctx.services.exceptions.revoke(exception_id, ctx.viewer.aad_object_id, ctx.viewer.name, **ctx.school_kw)
    if outcome is Revocation.unknown:
        return False, f"There is no exception #{exception_id}."
    if outcome is Revocation.already_withdrawn:
        return False, f"Exception #{exception_id} was already withdrawn; nothing changed."
    return True, f"Exception #{exception_id} withdrawn."
