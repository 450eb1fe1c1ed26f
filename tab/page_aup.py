"""Staff AUP: who has signed which version, who has not, and the reminders sent."""

from __future__ import annotations

import logging

from .context import Ctx
from .html import e, empty, section, stamp, table

log = logging.getLogger(__name__)


async def render(ctx: Ctx) -> str:
    zone = ctx.policy.school.zone
    aup = ctx.policy.aup
    signatures = await ctx.services.signatures.all(school_id=ctx.policy.school.id)
    reminders = await ctx.records.reminders(ctx.scope)
    parts = []
    if aup is None:
        parts.append(empty("The policy names no AUP for staff to sign ([aup] in the policy file)."))
    else:
        parts.append(f'<p>Current version: <strong>{e(aup.version)}</strong>. '
                     f'<a class="button" href="{e(ctx.href("/tab/api/aup.csv"))}" data-download="staff-aup.csv">Download CSV</a></p>')
        try:
            status = await ctx.services.staff.status(**ctx.school_kw)
        except Exception as exc:  # noqa: BLE001 - Graph down or the staff group unset: show what is known, say why
            log.warning("staff list unavailable for the AUP page: %s", type(exc).__name__)
            status = None
            parts.append(f'<p class="notice">The staff list could not be read from Microsoft Graph ({e(type(exc).__name__)}); '
                         "below are the signatures Chaperone holds.</p>")
        if status is not None:
            last_reminder = {}
            for r in reminders:
                if r.version == aup.version:
                    last_reminder[r.aad_object_id] = r.sent_at
            rows = sorted(status, key=lambda s: (s.signed_at is not None, (s.member.name or "").lower()))
            parts.append(section(f"Staff and version {aup.version}", table(["Name", "Sign-in", "Signed", "Position", "Last reminder"], [
                (e(s.member.name or s.member.aad_object_id), e(s.member.upn or ""),
                 e(stamp(s.signed_at, zone)) if s.signed_at else '<span class="badge badge-breach">not signed</span>',
                 e(s.position or ""), e(stamp(last_reminder.get(s.member.aad_object_id), zone))) for s in rows])))
            parts.append(f'<p class="muted">{sum(1 for s in rows if s.signed_at)} of {len(rows)} signed.</p>')
    parts.append(section("Every signature", table(["Name", "Position", "Version", "Signed", "Text SHA-256"], [
        (e(s.name), e(s.position), e(s.version), e(stamp(s.signed_at, zone)), f"<code>{e(s.text_sha256[:12])}…</code>")
        for s in sorted(signatures, key=lambda s: s.signed_at, reverse=True)]) if signatures else empty("Nobody has signed yet.")))
    parts.append(section("Reminders sent", table(["To (Entra id)", "Version", "Sent"], [
        (f"<code>{e(r.aad_object_id)}</code>", e(r.version), e(stamp(r.sent_at, zone))) for r in reversed(reminders)])
        if reminders else empty("No reminders have been sent.")))
    return "".join(parts)


async def csv_rows(ctx: Ctx) -> list[tuple]:
    """name, entra id, version, signed, position: every member of staff Graph lists (signed or
    not) for the current version, then every signature the staff list does not cover (someone
    outside the staff group, or the list unreadable), as the page's 'Every signature' shows."""
    rows: list[tuple] = []
    signatures = await ctx.services.signatures.all(school_id=ctx.policy.school.id)
    listed: set[tuple[str, str]] = set()
    if ctx.policy.aup is not None:
        try:
            for s in await ctx.services.staff.status(**ctx.school_kw):
                rows.append((s.member.name, s.member.aad_object_id, ctx.policy.aup.version, s.signed_at, s.position))
                listed.add((s.member.aad_object_id, ctx.policy.aup.version))
        except Exception as exc:  # noqa: BLE001 - as on the page: the signatures still export
            log.warning("staff list unavailable for the AUP export: %s", type(exc).__name__)
    rows += [(s.name, s.aad_object_id, s.version, s.signed_at, s.position) for s in signatures
             if (s.aad_object_id, s.version) not in listed]
    return rows
