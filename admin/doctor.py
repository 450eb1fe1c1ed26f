"""`python app.py doctor`: every piece a working Chaperone needs, checked, with what to fix in
plain words. Reads only: it migrates nothing, sends no card and changes no setting.

The checks: the settings and the policy file; the database reachable and migrated; the bot's
credentials get a token; the Graph credential gets a token and which application permissions
that token carries against the ones Chaperone needs; the Teams application access policy for a
named organizer (one Graph call); the public URL answers; the alert and concern channels set.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from config.policy import Policy
from config.trust import Schools
from config.settings import Settings
from domain.conversations import AlertPurpose

# How long one check may take before it is reported as not answering.
CHECK_SECONDS = 20


class Level(StrEnum):
    ok = "ok"
    warning = "warning"  # works, but something the school should know or do
    problem = "problem"  # something Chaperone needs is missing: doctor exits non-zero


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    says: str
    fix: str = ""


def needed_permissions(policy: Policy | Schools | None) -> dict[str, str]:
    """The Graph application permissions this deployment needs, with why (any school that
    remediates the lobby needs write access)."""
    from graph.permissions import GRAPH_APPLICATION_PERMISSIONS

    needed = dict(GRAPH_APPLICATION_PERMISSIONS)
    policies = policy.all_policies() if isinstance(policy, Schools) else [policy] if policy else []
    remediating = any((p.rules.get("waiting-room") or {}).get("remediate") for p in policies)
    if not remediating:
        needed.pop("OnlineMeetings.ReadWrite.All")
    return needed


# A permission that includes another: granting ReadWrite covers Read.
IMPLIED = {"OnlineMeetings.ReadWrite.All": {"OnlineMeetings.Read.All"}}


async def check_database(settings: Settings) -> list[Check]:
    from store.db import create_engine, ping, schema_revisions

    engine = create_engine(settings.database_url)
    where = settings.database_url.split("@")[-1]
    try:
        problem = await ping(engine)
        if problem is not None:
            return [Check("database", Level.problem, f"cannot reach the database at {where}: {problem}",
                          "start the database, or fix CHAPERONE_DATABASE_URL (host, port, user, password)")]
        current, head = await schema_revisions(engine)
    finally:
        await engine.dispose()
    if current != head:
        state = "has no Chaperone schema yet" if current is None else f"is at migration {current}, not {head}"
        return [Check("database", Level.problem, f"the database at {where} {state}",
                      "run `python app.py migrate` (Chaperone also migrates when it starts)")]
    return [Check("database", Level.ok, f"reachable and migrated ({head}) at {where}")]


async def check_bot_token(settings: Settings) -> list[Check]:
    if not settings.auth_enabled:
        return [Check("bot credentials", Level.warning, "dev mode: Bot Framework authentication is off",
                      "never run a school's Chaperone in dev mode: set MicrosoftAppId, MicrosoftAppPassword and "
                      "MicrosoftAppTenantId, and unset CHAPERONE_DEV_MODE")]
    from outbound.connector import EntraToken

    source = EntraToken(settings)
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await source.headers()
    except Exception as exc:  # noqa: BLE001 - azure-identity raises its own and msal's errors
        return [Check("bot credentials", Level.problem,
                      f"the bot's app registration cannot get a Bot Framework token ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0][:160] if str(exc) else 'no detail'})",
                      "check MicrosoftAppId, MicrosoftAppPassword (not expired), MicrosoftAppTenantId and "
                      f"MicrosoftAppType ({settings.app_type.value})")]
    finally:
        await source.close()
    return [Check("bot credentials", Level.ok, f"the bot's app registration gets a token ({settings.app_type.value})")]


async def check_graph_permissions(settings: Settings, policy: Policy | Schools | None) -> list[Check]:
    from graph.diagnostics import TokenProblem, token_roles

    try:
        async with asyncio.timeout(CHECK_SECONDS):
            roles = await token_roles(settings)
    except (TokenProblem, TimeoutError) as exc:
        return [Check("graph permissions", Level.problem, f"no Microsoft Graph token: {exc or 'no answer in time'}",
                      "check CHAPERONE_GRAPH_* (or the bot's app registration, which Graph uses by default)")]
    held = roles | {implied for role in roles for implied in IMPLIED.get(role, set())}
    missing = {name: why for name, why in needed_permissions(policy).items() if name not in held}
    if missing:
        listed = "; ".join(f"{name} ({why.split(' (')[0]})" for name, why in sorted(missing.items()))
        return [Check("graph permissions", Level.problem, f"the Graph token lacks {len(missing)} application permission(s): {listed}",
                      "Entra admin centre > App registrations > Chaperone > API permissions > Add a permission > "
                      "Microsoft Graph > Application permissions; then Grant admin consent")]
    return [Check("graph permissions", Level.ok, f"the Graph token carries every permission needed ({', '.join(sorted(needed_permissions(policy)))})")]


async def check_access_policy(settings: Settings, organizer: str | None) -> list[Check]:
    if not organizer:
        return [Check("teams access policy", Level.warning, "not checked: no organizer named",
                      "run `python app.py doctor --organizer teacher@school.example` to check one teacher")]
    from graph.client import GraphClient, GraphUnavailable
    from graph.diagnostics import meetings_readable, object_id

    graph = GraphClient(settings)
    try:
        organizer_id = await object_id(graph, organizer)
        await meetings_readable(graph, organizer_id)
    except GraphUnavailable as exc:
        if exc.status == 403 and "access policy" in exc.reason.lower():
            return [Check("teams access policy", Level.problem,
                          f"no Teams application access policy lets Chaperone read {organizer}'s meetings",
                          "in Teams PowerShell: New-CsApplicationAccessPolicy (once), then Grant-CsApplicationAccessPolicy "
                          "-PolicyName Chaperone-Policy -Group <staff group> (or -Global); it can take 30 minutes to apply")]
        return [Check("teams access policy", Level.problem, f"could not ask about {organizer}'s meetings: {exc.reason}",
                      "see the Graph permissions check; a 404 means Graph has no such user")]
    finally:
        await graph.close()
    return [Check("teams access policy", Level.ok, f"Chaperone may read {organizer}'s online meetings")]


async def check_public_url(settings: Settings) -> list[Check]:
    if not settings.public_url:
        return [Check("public url", Level.warning, "CHAPERONE_PUBLIC_URL is not set: the organizer's warning goes to the "
                      "meeting chat, not the meeting stage, and the app's privacy and terms links have no host",
                      "set CHAPERONE_PUBLIC_URL to Chaperone's https address as Teams reaches it")]
    url = settings.public_url.rstrip("/") + "/healthz"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CHECK_SECONDS)) as http, http.get(url) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return [Check("public url", Level.problem, f"{url} does not answer ({type(exc).__name__})",
                      "check DNS, the reverse proxy or ingress, and its certificate")]
    if status >= 500 and status != 503:
        return [Check("public url", Level.problem, f"{url} answered HTTP {status}", "check the reverse proxy's route to Chaperone")]
    return [Check("public url", Level.ok, f"{url} answers (HTTP {status})")]


async def check_channels(settings: Settings, schools: Schools | None = None) -> list[Check]:
    """Each school's alert and concern channels (in a trust, the default policy's too: lessons
    no school claims are alerted there)."""
    from domain.placement import SOLE_SCHOOL_ID
    from store.conversations import ConversationStore
    from store.db import create_engine

    policies = schools.all_policies() if schools is not None else []
    ids = [(p.school.id, p.school.name) for p in policies] or [(SOLE_SCHOOL_ID, "")]
    trust = bool(schools and schools.is_trust)
    engine = create_engine(settings.database_url)
    try:
        store = ConversationStore(engine)
        set_ = [(sid, name, await store.alert_destination(AlertPurpose.slt, school_id=sid),
                 await store.alert_destination(AlertPurpose.dsl, school_id=sid)) for sid, name in ids]
    except Exception:  # noqa: BLE001 - the database check has said why already
        return []
    finally:
        await engine.dispose()
    found = []
    for sid, name, slt, dsl in set_:
        whose = f" ({name})" if trust else ""
        command = f"set alert channel {sid}" if trust else "set alert channel"
        found.append(Check(f"slt alert channel{whose}", Level.ok, "set") if slt else
                     Check(f"slt alert channel{whose}", Level.problem, "no channel receives breach alerts",
                           f"a senior leader named in the policy posts `@Chaperone {command}` in a private SLT channel"))
        found.append(Check(f"dsl concern channel{whose}", Level.ok, "set") if dsl else
                     Check(f"dsl concern channel{whose}", Level.warning, "not set: concerns go to each DSL's personal chat",
                           "optional: the DSL posts `@Chaperone set concern channel` in a private channel"))
    return found


def check_placement(schools: Schools) -> list[Check]:
    """In a trust, each school needs something that places its lessons (staff group, class
    teams' education schools); a school with neither only gets lessons through its timetable."""
    found = []
    for policy in schools:
        if policy.people.staff_group_ids or policy.school.education_school_ids:
            continue
        found.append(Check(f"placement ({policy.school.name})", Level.warning,
                           "no staff group and no education school id: its lessons are placed only by its timetable",
                           "set [people] staff_group_ids (and [school] education_school_ids) in the school's policy file"))
    return found or [Check("placement", Level.ok, f"each of the {len(schools)} schools can place its lessons")]


def check_privacy_contact(policy: Policy) -> list[Check]:
    if policy.privacy is None:
        return [Check("privacy contact", Level.warning, "the policy file names no data controller contact: /privacy says to ask the school office",
                      "add a [privacy] table (controller, contact_name, contact_email) to the policy file")]
    return [Check("privacy contact", Level.ok, f"{policy.privacy.contact_name}, {policy.privacy.contact_email}")]


async def examine(settings: Settings, policy: Policy | Schools | None, organizer: str | None) -> list[Check]:
    schools = Schools.single(policy) if isinstance(policy, Policy) else policy
    checks = await check_database(settings)
    checks += await check_bot_token(settings)
    checks += await check_graph_permissions(settings, schools)
    checks += await check_access_policy(settings, organizer)
    checks += await check_public_url(settings)
    if checks[0].level is Level.ok:
        checks += await check_channels(settings, schools)
    if schools is not None:
        if schools.is_trust:
            checks += check_placement(schools)
        checks += check_privacy_contact(schools.default)
    return checks


def report(checks: list[Check]) -> str:
    marks = {Level.ok: "ok  ", Level.warning: "WARN", Level.problem: "FAIL"}
    lines = []
    for check in checks:
        lines.append(f"[{marks[check.level]}] {check.name}: {check.says}")
        if check.fix and check.level is not Level.ok:
            lines.append(f"       fix: {check.fix}")
    problems = sum(c.level is Level.problem for c in checks)
    lines.append(f"\n{problems} problem(s), {sum(c.level is Level.warning for c in checks)} warning(s)"
                 + (": Chaperone is missing something it needs" if problems else ""))
    return "\n".join(lines)
