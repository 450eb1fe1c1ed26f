"""Chaperone's command line: `python app.py COMMAND`.

    serve                 run the bot endpoint (POST /api/messages, GET /healthz) (the default)
    migrate               bring the database schema up to date and exit
    demo                  follow a scripted school morning through the real endpoint
    bench                 issue 14's figures: bare aiohttp vs Chaperone, throughput, latency, alerts, CPU, RSS
    rules                 list the rules, the adopted AUP's clauses, and whether the policy enables them
    import-timetable FILE / import-consent FILE   load the school's registers
    import-pupil-aup FILE / import-image-consent FILE   the pupil/parent AUP agreements and image consents
    exceptions add|list|revoke                    the exceptions register
    cards --out DIR       every card Chaperone sends, with sample data
    alerts [--undelivered]   cards queued, sent, or not delivered
    aup status|remind     who has signed the current AUP; remind those who have not
    export signatures --format csv   the signature register
    export lessons|attendance|findings|concerns|audit --from DATE --to DATE [--out FILE]   the record, as CSV
    purge                 delete what is past its retention period
    manifest --out build/chaperone.zip   the Teams app package

In a trust of several schools the register commands (rules, the imports, exceptions, aup) name
the school with --school ID (its [school] id): each school has its own registers, and an
exception is approved by that school's SLT or DSL. `purge` does every school, each by its own
policy's retention, unless --school names one.

Each command imports what it uses when it runs: most need neither botbuilder nor msgraph,
which take seconds to import. Adding a command is one function decorated with @subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import getpass
import io
import json
import logging
import os
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from config.policy import Person, Policy
from config.settings import Settings
from config.trust import Schools
from config.startup import StartupError, read_schools, read_settings
from importers.common import ImportProblems

if TYPE_CHECKING:  # imported lazily at run time, like every command's dependencies
    from aiohttp import web

    from domain.school import ConsentKind

log = logging.getLogger("chaperone")

SUBCOMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None], str]] = {}


def subcommand(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(fn: Callable[[argparse.Namespace], int]):
        SUBCOMMANDS[name] = (fn, arguments, help)
        return fn

    return register


@subcommand("serve", "run the bot endpoint (the default)")
def serve(args: argparse.Namespace) -> int:
    from config.settings import LogFormat
    from telemetry import logs

    settings = read_settings()
    # Text or JSON lines, before the imports below (alembic logs as it loads); the database
    # drivers at WARNING, whose INFO lines are SQL with its parameters.
    logs.configure(settings.log_format is LogFormat.json, settings.log_level)

    from aiohttp import web

    from app import create_app, server_options

    schools = read_schools(settings)  # a school's policy file, or a trust's
    if settings.dev_mode:
        log.warning("DEV MODE: Bot Framework authentication is OFF; only loopback service URLs are used")
    if not settings.run_worker:
        log.info("CHAPERONE_RUN_WORKER is off: this process answers Teams; `python app.py worker` processes do the work")
    web.run_app(serving_app(create_app(settings, schools)), host=settings.bind_host, port=settings.port, print=None, **server_options(settings))
    return 0


def serving_app(app: "web.Application") -> "web.Application":
    """The application as `serve` runs it: start-up's objects frozen once it has started."""
    app.on_startup.append(freeze_start_up)  # after the cleanup contexts (the engine, the clients)
    return app


async def freeze_start_up(app: "web.Application") -> None:
    """Start-up's objects (modules, the SDKs' models and schemas, the clients) live as long as
    the process: out of the collector's sight, full collections stop re-walking them. In the
    benchmark a full collection of the HTTP front took 140 ms on average and 180 ms at worst
    (every answer waiting meanwhile); frozen, 12 ms and 40 ms, and its closed-loop throughput
    rose by two fifths. The front only: a worker's pauses do not keep Teams waiting."""
    gc.collect()  # start-up's garbage first: frozen, it would never be freed
    gc.freeze()


@subcommand("worker", "run a job worker only (no HTTP): derive, judge and alert for `serve` processes with CHAPERONE_RUN_WORKER=0")
def worker_command(args: argparse.Namespace) -> int:
    import signal

    from config.settings import LogFormat
    from telemetry import logs

    settings = read_settings()
    logs.configure(settings.log_format is LogFormat.json, settings.log_level)
    schools = read_schools(settings)
    if settings.worker_nice:
        # Where a worker shares CPUs with an HTTP front, answering Teams comes first: the
        # follow-up waits (it is in the log), Teams does not retry after 15 s for nothing.
        os.nice(settings.worker_nice)

    async def run() -> None:
        from app import build_services

        services = await build_services(settings, schools, run_worker=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker %s running (%s)", services.worker.instance, "woken by PostgreSQL notifications"
                 if services.engine.dialect.name == "postgresql" else f"polling every {settings.job_poll_seconds:g} s")
        try:
            await stop.wait()
        finally:
            await services.close()

    asyncio.run(run())
    return 0


@asynccontextmanager
async def database(settings: Settings):
    """The migrated database engine, for admin commands that do not run the bot."""
    from store.db import create_engine, migrate

    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


@subcommand("migrate", "bring the database schema up to date and exit")
def migrate_command(args: argparse.Namespace) -> int:
    settings = read_settings()

    async def run() -> None:
        async with database(settings):
            pass

    asyncio.run(run())
    print(f"schema up to date: {settings.database_url.split('@')[-1]}")
    return 0


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file under ./data/)")
    parser.add_argument("--serve", action="store_true", help="keep serving the demo's record afterwards, for the tab in a browser")
    parser.add_argument("--port", type=int, help="with --serve: the port (default: a free one)")
    parser.add_argument("--trust", action="store_true",
                        help="the day as a two-school trust (trust.example/): each school's lessons, alerts and channel")


@subcommand("demo", "follow a scripted school morning through the real endpoint and print a report", _demo_arguments)
def demo_command(args: argparse.Namespace) -> int:
    from demo.morning import run_demo

    if args.trust:
        from demo.trust import run_trust_demo

        demo = run_trust_demo(database_url=args.database, serve=args.serve, port=args.port)
    else:
        demo = run_demo(database_url=args.database, serve=args.serve, port=args.port)
    try:
        return asyncio.run(demo)
    except KeyboardInterrupt:
        return 0


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=625.0, help="fixed offered rate, events/s, open loop (default 625)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds at the fixed rate (default 60)")
    parser.add_argument("--throughput-seconds", type=float, default=10.0, help="longest closed-loop run (default 10)")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight, closed loop (default 64)")
    parser.add_argument("--connections", type=int, default=256, help="most connections the open-loop client opens (default 256)")
    parser.add_argument("--clients", type=int, default=1, help="load generator processes (default 1)")
    parser.add_argument("--graph-latency", type=float, default=0.15, help="seconds the Graph stand-in takes per request (default 0.15)")
    parser.add_argument("--overload", action="store_true", help="also offer 2,000/s for 20 s, then a 50/s tail: worst latency, loss, recovery")
    parser.add_argument("--trust", action="store_true",
                        help="the 09:00 scenario only: 2,500 lessons of 30 people over two minutes, in a trust of 50 schools")
    parser.add_argument("--schools", type=int, help="with --trust or --starts: how many schools (default 50; 1: one school, no trust file)")
    parser.add_argument("--starts", type=int, default=0, metavar="N",
                        help="only this: what N breaching lessons' starts cost the worker (needs --workers 1 and PostgreSQL)")
    parser.add_argument("--settle-timeout", type=float, default=180.0, help="longest wait for follow-up work after a phase (default 180 s)")
    parser.add_argument("--quick", action="store_true", help="tiny numbers, to check that it runs (the smoke test)")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file); e.g. postgresql+asyncpg://...")
    parser.add_argument("--workers", type=int, default=0,
                        help="run Chaperone as an HTTP front (CHAPERONE_RUN_WORKER=0) and this many `app.py worker` processes "
                             "(PostgreSQL; default 0: one process does both)")


@subcommand("bench", "measure issue 14's figures: bare aiohttp vs Chaperone (authentication on), printed not asserted", _bench_arguments)
def bench_command(args: argparse.Namespace) -> int:
    from demo.bench import Options, run_bench

    schools = args.schools if args.schools is not None else (50 if args.trust or args.starts else 1)
    common = dict(overload=args.overload, trust=args.trust, schools=max(1, schools), database=args.database,
                  clients=args.clients, graph_latency=args.graph_latency, workers=max(0, args.workers), starts=max(0, args.starts))
    if args.quick:
        opts = Options.quick_run(**common)
    else:
        opts = Options(rate=args.rate, duration=args.duration, throughput_seconds=args.throughput_seconds,
                       concurrency=args.concurrency, connections=args.connections, settle_timeout=args.settle_timeout, **common)
    return asyncio.run(run_bench(opts))


def _operator() -> str:
    return f"cli:{getpass.getuser()}"



# --- In a trust: which school a register command is about ------------------------------------


def _school_argument(parser: argparse.ArgumentParser, what: str = "whose register this is") -> None:
    parser.add_argument("--school", metavar="ID", help=f"in a trust of several schools: the school ([school] id) {what}")


def _chosen_school(schools: Schools, school_id: str | None, required: bool = True) -> Policy | None:
    """The policy of the school `--school` names. A single school needs none (its own id is
    accepted); a trust of several must name one (unless not `required`: None, every school)."""
    ids = [p.school.id for p in schools.all_policies()]
    if not schools.is_trust:
        if school_id is not None and school_id != schools.default.school.id:
            raise StartupError(f"--school {school_id}: this deployment has one school, {schools.default.school.name} "
                               f"(id {schools.default.school.id!r}): leave --school out")
        return schools.default
    if school_id is None:
        if len(schools) == 1:
            return next(iter(schools))
        if not required:
            return None
        raise StartupError(f"{schools.name} has {len(schools)} schools: say which with --school ({', '.join(schools.ids)})")
    if school_id not in ids:
        raise StartupError(f"--school {school_id}: not one of {schools.name}'s schools (their ids: {', '.join(ids)})")
    return schools.get(school_id)


def _read_school(args: argparse.Namespace, settings: Settings | None = None) -> tuple[Schools, Policy]:
    """The deployment's schools (a school's policy file or a trust file) and the one chosen."""
    schools = read_schools(settings or read_settings())
    policy = _chosen_school(schools, args.school)
    assert policy is not None
    return schools, policy


def _for_school(schools: Schools, policy: Policy) -> str:
    """' for <school>' in a trust's messages; nothing for a single school (its words unchanged)."""
    return f" for {policy.school.name}" if schools.is_trust else ""


@subcommand("rules", "list every rule with its id, severity, clause and whether the policy enables it",
            lambda p: _school_argument(p, "whose policy to list"))
def rules_command(args: argparse.Namespace) -> int:
    from rules import registry

    schools, policy = _read_school(args)
    if schools.is_trust:
        print(f"{policy.school.name} (school {policy.school.id}), {schools.name}")
    print("Adopted AUP: " + "; ".join(m.title for m in policy.clause_maps) + "\n")
    for rule in registry.RULES:
        options = rule.options_for(policy)
        state = "on " if options.enabled else "off"
        print(f"[{state}] {rule.id:<22} {rule.severity_for(policy).value:<8} {rule.title}")
        clauses = policy.clauses_for(rule.id)
        for clause, document in clauses:
            print(f"        \"{clause.text}\"\n          - {document.title}{f' ({clause.section})' if clause.section else ''}")
        if not clauses:
            print("        (no clause in the adopted AUP documents: a check of Chaperone's own)")
        print(f"        fix: {rule.remediation}\n")
    return 0


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the file exported from the school's MIS")
    _school_argument(parser, "whose register the file replaces")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StartupError(f"cannot read {path}: {exc.strerror}") from exc


def _timetable_arguments(parser: argparse.ArgumentParser) -> None:
    _file_argument(parser)
    parser.add_argument("--dry-run", action="store_true", help="say what would change, and change nothing")


@subcommand("import-timetable", "replace the timetable with a CSV or iCalendar (.ics) export", _timetable_arguments)
def import_timetable_command(args: argparse.Namespace) -> int:
    from importers.timetable import TimetableChanges, describe, parse_timetable
    from store.school_data import SchoolData
    from store.timetable_view import current_timetable

    settings = read_settings()
    schools, policy = _read_school(args, settings)
    school_id = policy.school.id
    entries = parse_timetable(_read(args.file), str(args.file), policy.school.zone)

    async def run() -> TimetableChanges:
        async with database(settings) as engine:
            changes = TimetableChanges(await current_timetable(engine, school_id=school_id), [e for e, _ in entries])
            if not args.dry_run:
                await SchoolData(engine).replace_timetable(entries, _operator(), str(args.file), school_id=school_id)
            return changes

    changes = asyncio.run(run())
    if args.dry_run:
        print(f"dry run: {args.file} has {len(entries)} timetable entries; importing it{_for_school(schools, policy)} would make "
              f"{changes.summary()}. Nothing was changed.")
        for entry in changes.added:
            print(f"  + {describe(entry)}")
        for entry in changes.removed:
            print(f"  - {describe(entry)}")
        return 0
    print(f"imported {len(entries)} timetable entries{_for_school(schools, policy)} from {args.file}: {changes.summary()}")
    return 0


@subcommand("import-consent", "replace the parental consent register with a CSV export", _file_argument)
def import_consent_command(args: argparse.Namespace) -> int:
    from importers.consent import parse_consents
    from store.school_data import SchoolData

    settings = read_settings()
    schools, policy = _read_school(args, settings)
    consents = parse_consents(_read(args.file), str(args.file))

    async def run() -> int:
        async with database(settings) as engine:
            return await SchoolData(engine).replace_consents(consents, _operator(), str(args.file), school_id=policy.school.id)

    print(f"imported {asyncio.run(run())} consent records{_for_school(schools, policy)} from {args.file}")
    return 0


def _import_register(args: argparse.Namespace, kind: ConsentKind, what: str) -> int:
    from importers.consent import parse_consents
    from store.school_data import SchoolData

    settings = read_settings()
    schools, policy = _read_school(args, settings)
    forms = parse_consents(_read(args.file), str(args.file), only=kind)

    async def run() -> int:
        async with database(settings) as engine:
            return await SchoolData(engine).replace_consents(forms, _operator(), str(args.file), kinds={kind.value},
                                                             school_id=policy.school.id)

    print(f"imported {asyncio.run(run())} {what}{_for_school(schools, policy)} from {args.file}")
    return 0


@subcommand("import-pupil-aup", "replace the Pupil/Parent AUP Agreement register with a CSV export (pupil[, given_on, expires_on])",
            _file_argument)
def import_pupil_aup_command(args: argparse.Namespace) -> int:
    from domain.school import ConsentKind

    return _import_register(args, ConsentKind.pupil_aup, "pupil/parent AUP agreements")


@subcommand("import-image-consent", "replace the image consent register with a CSV export (pupil[, given_on, expires_on])",
            _file_argument)
def import_image_consent_command(args: argparse.Namespace) -> int:
    from domain.school import ConsentKind

    return _import_register(args, ConsentKind.image, "image consents")


def _report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("report", choices=["staff-pupil-chats"], help="which report to send now")


@subcommand("report", "send a report now: staff-pupil-chats (the DSL's weekly list of 1:1 chats between staff and pupils)",
            _report_arguments)
def report_command(args: argparse.Namespace) -> int:
    from app import build_services

    settings = read_settings()
    schools = read_schools(settings)

    async def run() -> int:
        services = await build_services(settings, schools)
        try:
            if not services.chats_report.enabled:
                raise StartupError("the staff-pupil-chats report is off: turn it on with [rules.staff-pupil-chats] enabled = true")
            finding = await services.chats_report.send()
            await services.worker.wait_idle(timeout=60)
            print(f"{finding.message}: report queued for the DSL")
            return 0
        finally:
            await services.close()

    return asyncio.run(run())


@subcommand("enrol", "run one enrolment sweep now: Chaperone installs itself in the coming day's lessons and says what it did")
def enrol_command(args: argparse.Namespace) -> int:
    from app import build_services
    from domain.enrolment import EnrolmentStatus

    settings = read_settings()
    schools = read_schools(settings)  # a school's policy file, or a trust file (every school swept)
    words = {EnrolmentStatus.enrolled: "enrolled", EnrolmentStatus.already: "already there", EnrolmentStatus.skipped: "skipped",
             EnrolmentStatus.failed: "could not enrol"}

    async def run() -> int:
        services = await build_services(settings, schools)
        try:
            if not services.enrolment.enabled:
                raise StartupError("enrolment is off: turn it on with [enrolment] enabled = true")
            report = await services.enrolment.sweep()
        finally:
            await services.close()
        for e in sorted(report.enrolments, key=lambda e: (e.start is None, e.start or 0, e.subject or "")):
            school = schools.get(e.school_id).school
            when = f"{e.start.astimezone(school.zone):%a %d %b %H:%M}" if e.start else "?"
            where = f"{school.name}: " if schools.is_trust else ""
            print(f"{words[e.status]:<16} {when:<16} {where}{e.subject or '(no subject)'}" + (f"  ({e.reason})" if e.reason else ""))
        if report.personal:
            outcomes = list(report.personal.values())
            refused = [o for o in outcomes if o not in ("installed", "already")]
            print(f"personal scope: {outcomes.count('installed')} installed, {outcomes.count('already')} already there, "
                  f"{len(refused)} could not" + (f" ({refused[0]})" if refused else ""))
        for problem in report.problems:
            print(f"problem: {problem}", file=sys.stderr)
        print(f"{report.count(EnrolmentStatus.enrolled)} enrolled, {report.count(EnrolmentStatus.already)} already there, "
              f"{report.count(EnrolmentStatus.skipped)} skipped, {report.count(EnrolmentStatus.failed)} could not enrol")
        return 1 if report.problems or report.count(EnrolmentStatus.failed) else 0

    return asyncio.run(run())


def _subscriptions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--renew", action="store_true", help="renew those expiring within a day and make missing ones, now")


@subcommand("subscriptions", "list Chaperone's Graph change-notification subscriptions with their expiry", _subscriptions_arguments)
def subscriptions_command(args: argparse.Namespace) -> int:
    from store.subscriptions import SubscriptionStore

    settings = read_settings()
    policy = read_schools(settings)  # every school's staff calendars, in a trust

    async def run() -> tuple[list, list[str]]:
        done: list[str] = []
        if args.renew:
            from app import build_services

            services = await build_services(settings, policy)
            try:
                done = await services.subscriptions.maintain()
            finally:
                await services.close()
        async with database(settings) as engine:
            return await SubscriptionStore(engine).all(), done

    held, done = asyncio.run(run())
    for line in done:
        print(line)
    if not held:
        print("no Graph subscriptions" + ("" if settings.notification_url else
                                          " (set CHAPERONE_PUBLIC_URL so Graph can reach /api/graph/notifications)"))
    for s in held:
        renewed = f", renewed {s.renewed_at:%Y-%m-%d %H:%M} UTC" if s.renewed_at else ""
        problem = f", last error: {s.last_error}" if s.last_error else ""
        print(f"{s.purpose.value:<13} {s.resource:<60} expires {s.expires_at:%Y-%m-%d %H:%M} UTC{renewed}{problem}  [{s.id}]")
    return 0


def _coverage_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="start", type=date.fromisoformat, required=True, help="first day (YYYY-MM-DD, school time)")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, required=True, help="last day (YYYY-MM-DD), included")
    parser.add_argument("--school", help="in a trust: the school (its [school] id; the default policy's id for 'school unknown')")


def _record_school(settings: Settings, wanted: str | None) -> tuple[Policy, str | None]:
    """The policy and school a record command reads (`_chosen_school`): in a trust, the school
    --school names (never a mix of schools); the single school's whole record otherwise (None)."""
    schools = read_schools(settings)
    policy = _chosen_school(schools, wanted)
    assert policy is not None
    return policy, policy.school.id if schools.is_trust else None


@subcommand("coverage", "per day and teacher: sessions with pupils, followed live, seen only afterwards, could not enrol (with why)",
            _coverage_arguments)
def coverage_command(args: argparse.Namespace) -> int:
    from store.coverage import Coverage

    if args.end < args.start:
        raise StartupError("--to is before --from")
    settings = read_settings()
    policy, school_id = _record_school(settings, args.school)

    async def run() -> list:
        async with database(settings) as engine:
            return await Coverage(engine).between(args.start, args.end, policy.school.zone, school_id=school_id)

    found = asyncio.run(run())
    print(f"{'day':<11} {'teacher':<28} {'with pupils':>11} {'followed live':>13} {'seen afterwards':>15} {'could not enrol':>15}")
    for row in found:
        print(f"{row.day:<11} {row.teacher[:28]:<28} {row.sessions_with_pupils:>11} {row.followed_live:>13} {row.seen_afterwards:>15} "
              f"{row.could_not_enrol:>15}")
        for reason in row.reasons:
            print(f"{'':<11} could not enrol: {reason}")
    totals = [sum(getattr(r, f) for r in found) for f in ("sessions_with_pupils", "followed_live", "seen_afterwards", "could_not_enrol")]
    print(f"{'total':<40} {totals[0]:>11} {totals[1]:>13} {totals[2]:>15} {totals[3]:>15}")
    return 0


def _exception_arguments(parser: argparse.ArgumentParser) -> None:
    from rules import registry

    _school_argument(parser, "whose exceptions register it is (its SLT or DSL approve)")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="record an exception SLT or the DSL approved")
    add.add_argument("--rule", required=True, choices=sorted(registry.BY_ID))
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--lesson", type=int, help="one lesson (its id)")
    scope.add_argument("--meeting", help="a recurring series (its Teams meeting id)")
    scope.add_argument("--person", help="a person (email/UPN or Entra object id)")
    add.add_argument("--reason", required=True)
    add.add_argument("--approver", required=True, help="the SLT member or DSL who approved it (email/UPN or Entra object id)")
    add.add_argument("--expires", type=date.fromisoformat, help="last day it applies (YYYY-MM-DD)")
    actions.add_parser("list", help="list the register")
    revoke = actions.add_parser("revoke", help="withdraw an exception")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--by", required=True, help="the SLT member or DSL withdrawing it (email/UPN or Entra object id)")


def _approver(policy: Policy, aad_id: str, schools: Schools | None = None) -> Person:
    """SLT or the DSL of the school whose register it is (in a trust, of THAT school)."""
    for person in policy.people.slt + policy.people.dsl:
        if person.aad_object_id == aad_id:
            return person
    where = f"of {policy.school.name}" if schools is not None and schools.is_trust else "in the policy"
    raise StartupError(f"{aad_id} is not SLT or the DSL {where}: only they can approve or withdraw exceptions")


@subcommand("exceptions", "the exceptions register: add, list, revoke", _exception_arguments)
def exceptions_command(args: argparse.Namespace) -> int:
    from store.register import ExceptionRegister, Revocation

    settings = read_settings()
    schools, policy = _read_school(args, settings)
    school_id = policy.school.id
    operator = getpass.getuser()  # who typed the command, audited beside the approver named

    async def run() -> int:
        async with database(settings) as engine:
            register = ExceptionRegister(engine, schools)
            if args.action == "add":
                approver = _approver(policy, await _entra_id(settings, args.approver), schools)
                if refused := policy.approval_refused(approver.aad_object_id, args.rule):
                    raise StartupError(f"{approver.name}: {refused}")
                if args.person is not None:
                    args.person = await _entra_id(settings, args.person)
                reason, expires = await _checked_exception(args, policy, register)
                approved = await register.approve(
                    rule_id=args.rule, reason=reason, approver_id=approver.aad_object_id, approver_name=approver.name,
                    lesson_id=args.lesson, meeting_id=args.meeting, person_id=args.person, expires_at=expires, operator=operator,
                    school_id=school_id,
                )
                print(f"exception #{approved.id} recorded{_for_school(schools, policy)}: {args.rule}, approved by {approver.name}")
            elif args.action == "revoke":
                person = _approver(policy, await _entra_id(settings, args.by), schools)
                outcome = await register.revoke(args.id, person.aad_object_id, person.name, operator=operator, school_id=school_id)
                if outcome is Revocation.unknown:
                    raise StartupError(f"there is no exception #{args.id}{_for_school(schools, policy)}: see `exceptions list`")
                if outcome is Revocation.already_withdrawn:
                    print(f"exception #{args.id} was already withdrawn; nothing changed", file=sys.stderr)
                    return 1
                print(f"exception #{args.id} withdrawn")
            else:
                for row in await register.list(school_id=school_id):
                    scope = f"lesson {row.lesson_id}" if row.lesson_id else f"series {row.meeting_id}" if row.meeting_id else f"person {row.person_id}"
                    state = "withdrawn" if row.revoked_at else f"until {row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "no expiry"
                    print(f"#{row.id} {row.rule_id} {scope} by {row.approved_by_name} ({state}): {row.reason}")
            return 0

    return asyncio.run(run())


async def _entra_id(settings: Settings, person: str) -> str:
    """An Entra object id for a person given either way: as an object id, or by email/UPN
    (looked up in the directory through Graph, User.Read.All)."""
    if "@" not in person:
        return person
    from graph.client import GraphClient, GraphUnavailable
    from graph.diagnostics import object_id

    graph = GraphClient(settings)
    try:
        return await object_id(graph, person.strip())
    except GraphUnavailable as exc:
        raise StartupError(f"cannot find {person} in the directory: {exc.reason}") from exc
    finally:
        await graph.close()


async def _checked_exception(args: argparse.Namespace, policy: Policy, register) -> tuple[str, datetime | None]:
    """The reason and expiry of an exception to add, or a StartupError naming what is wrong.
    The rules are domain.exception_rules' (the tab applies the same); the words are the CLI's."""
    from domain.exception_rules import ExceptionProblem, ExceptionRefused, checked_exception, lesson_id_in_range

    words = {
        ExceptionProblem.empty_reason: "--reason is empty: say why the exception was approved",
        ExceptionProblem.not_one_scope: "give one of --lesson, --meeting or --person",
        ExceptionProblem.no_such_lesson: f"there is no lesson {args.lesson} in the register: see `alerts` or the lesson record for its id",
        ExceptionProblem.unknown_meeting: f"no lesson of meeting {args.meeting!r} is recorded, and it is not a Teams meeting id",
        ExceptionProblem.person_without_expiry: "an exception for a person covers every lesson they are in: give it an end with --expires",
        ExceptionProblem.expiry_passed: f"--expires {args.expires} has passed: give the last day the exception applies",
        ExceptionProblem.expiry_too_far: "--expires is too far in the future",
    }
    try:
        return checked_exception(
            reason=args.reason, lesson_id=args.lesson,
            # Only the school's own lessons: an exception in one school's register never names another's.
            lesson_recorded=args.lesson is not None and lesson_id_in_range(args.lesson)
            and await register.lesson_recorded(args.lesson, school_id=policy.school.id),
            meeting_id=args.meeting,
            meeting_recorded=args.meeting is not None and await register.meeting_recorded(args.meeting, school_id=policy.school.id),
            person_id=args.person, expires=args.expires, today=datetime.now(policy.school.zone).date(), zone=policy.school.zone,
        )
    except ExceptionRefused as refused:
        raise StartupError(words[refused.problem]) from None


@subcommand("purge", "delete personal data older than the policy's retention periods, now (each school's by its own)",
            lambda p: _school_argument(p, "whose records alone to purge (default: every school's)"))
def purge_command(args: argparse.Namespace) -> int:
    from store.retention import purge_schools

    settings = read_settings()
    schools = read_schools(settings)
    chosen = _chosen_school(schools, args.school, required=False)
    only = chosen.school.id if chosen is not None and schools.is_trust else None

    async def run() -> dict[str, dict[str, int]]:
        async with database(settings) as engine:
            return await purge_schools(engine, schools, datetime.now(timezone.utc), only=only)

    for school_id, counts in asyncio.run(run()).items():
        if schools.is_trust:
            print(f"{schools.get(school_id).school.name} ({school_id}):")
        for what, count in counts.items():
            print(f"{count:>6} {what} deleted")
    return 0


def _aup_arguments(parser: argparse.ArgumentParser) -> None:
    _school_argument(parser, "whose AUP it is")
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="signed / not signed, per member of staff, for the current version")
    actions.add_parser("remind", help="send each unsigned member of staff a reminder (at most once per interval)")


@subcommand("aup", "the AUP signature register: status, remind", _aup_arguments)
def aup_command(args: argparse.Namespace) -> int:
    from app import build_services
    from graph.client import GraphUnavailable
    from outbound.notifier import NoDestination

    settings = read_settings()
    schools, policy = _read_school(args, settings)
    if policy.aup is None:
        raise StartupError(f"the policy{_for_school(schools, policy)} names no AUP: add an [aup] table with source and version")
    school_id = policy.school.id if schools.is_trust else None

    async def run() -> int:
        services = await build_services(settings, schools)
        try:
            if args.action == "remind":
                reminded, skipped = await services.signing.remind(school_id)
                print(f"reminded {reminded} member(s) of staff{_for_school(schools, policy)}; {skipped} reminded within the last "
                      f"{policy.aup.remind_interval_days} days")
                return 0
            rows = await services.signing.status(school_id)
        except (GraphUnavailable, NoDestination) as exc:
            raise StartupError(str(exc)) from exc
        finally:
            await services.close()
        if schools.is_trust:
            print(policy.school.name)
        print(f"{policy.aup_document().title}, version {policy.aup.version}")
        for row in rows:
            state = f"signed {row.signed_at:%Y-%m-%d %H:%M} as {row.position}" if row.signed_at else "NOT SIGNED"
            print(f"  {row.member.name or row.member.aad_object_id:<30} {row.member.upn or '':<35} {state}")
        print(f"{sum(1 for r in rows if r.signed_at)} of {len(rows)} signed")
        return 0

    return asyncio.run(run())


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["signatures", "lessons", "attendance", "findings", "concerns", "audit"])
    parser.add_argument("--from", dest="start", type=date.fromisoformat, help="first day (YYYY-MM-DD, school time); not for signatures")
    parser.add_argument("--to", dest="end", type=date.fromisoformat, help="last day (YYYY-MM-DD), included")
    parser.add_argument("--format", choices=["csv"], default="csv")
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")
    parser.add_argument("--school", help="in a trust: the school whose record to export (its [school] id)")


@subcommand("export", "export a register as CSV: signatures, or lessons|attendance|findings|concerns|audit --from --to", _export_arguments)
def export_command(args: argparse.Namespace) -> int:
    if args.what != "signatures":
        return _export_records(args)
    from store.signatures import SignatureRegister

    settings = read_settings()
    _, school_id = _record_school(settings, args.school)

    async def run() -> list:
        async with database(settings) as engine:
            return await SignatureRegister(engine).all(**({"school_id": school_id} if school_id else {}))

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "position", "entra_object_id", "version", "text_sha256", "signed_at"])
    for s in asyncio.run(run()):
        writer.writerow([s.name, s.position, s.aad_object_id, s.version, s.text_sha256, s.signed_at.isoformat()])
    if args.out:
        args.out.write_text(out.getvalue(), encoding="utf-8")
    else:
        sys.stdout.write(out.getvalue())
    return 0


def _export_records(args: argparse.Namespace) -> int:
    """The tab's CSV downloads, for the whole school (in a trust, the one --school names),
    streamed a page at a time to the file or standard output (a year of a large school is never
    in memory at once); audited."""
    from domain.records import ExportKind, RegisterFilter
    from store.exports import Exports
    from store.records import Records, Scope
    from store.tab_actions import TabActions
    from tab.csv_export import CsvExport

    if args.start is None or args.end is None:
        raise StartupError(f"export {args.what} needs --from and --to (YYYY-MM-DD)")
    if args.end < args.start:
        raise StartupError("--to is before --from")
    settings = read_settings()
    policy, school_id = _record_school(settings, args.school)
    kind = ExportKind(args.what)
    partial = args.out.with_name(args.out.name + ".partial") if args.out else None

    async def run() -> int:
        async with database(settings) as engine:
            counter = [0]
            export = CsvExport(Records(engine), Exports(engine))
            target = partial.open("w", encoding="utf-8", newline="") if partial else sys.stdout
            try:
                async for chunk in export.chunks(kind, RegisterFilter(start=args.start, end=args.end), policy, Scope(school_id=school_id),
                                                 counter):
                    target.write(chunk)
            finally:
                if partial:
                    target.close()
            await TabActions(engine).record(_operator(), None, "cli.export", f"export:{kind.value}",
                                            {"from": args.start.isoformat(), "to": args.end.isoformat(), "rows": counter[0],
                                             **({"school": school_id} if school_id else {})}, school_id=school_id)
            return counter[0]

    rows = asyncio.run(run())
    if partial:
        partial.replace(args.out)  # all or nothing
        print(f"wrote {rows} {args.what} rows to {args.out}", file=sys.stderr)
    return 0


def _manifest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("build/chaperone.zip"), help="the package to write")
    parser.add_argument("--version", default=None, help="the app version (default: Chaperone's own)")
    parser.add_argument("--developer", default=None, help="who publishes the app in your tenant (default: the school)")


@subcommand("manifest", "build the Teams app package (manifest.json and icons) a Teams admin uploads", _manifest_arguments)
def manifest_command(args: argparse.Namespace) -> int:
    from importlib import metadata

    from manifest.package import ManifestError, build

    settings = read_settings()
    schools = read_schools(settings)  # the trust's name, or the single school's
    try:
        manifest = build(
            args.out,
            app_id=settings.app_id,
            version=args.version or metadata.version("chaperone"),
            public_url=settings.public_url,
            developer_name=args.developer or schools.name,
        )
    except ManifestError as exc:
        raise StartupError(str(exc)) from exc
    print(f"wrote {args.out}: Teams app {manifest['id']} version {manifest['version']} for {manifest['validDomains'][0]}")
    return 0


def _gallery_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder to write one .json file per card into")


@subcommand("cards", "write every card Chaperone can send, with sample data, as .json files", _gallery_arguments)
def cards_command(args: argparse.Namespace) -> int:
    from cards.gallery import gallery

    policy = read_schools(read_settings()).default  # the single school's, or the trust's default policy
    args.out.mkdir(parents=True, exist_ok=True)
    for name, card in gallery(policy).items():
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


def _alerts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--undelivered", action="store_true", help="only the cards that have not been delivered")
    _alerts_operator_arguments(parser)


@subcommand("alerts", "list the cards Chaperone has queued or sent (reminders, warnings, alerts, summaries)", _alerts_arguments)
def alerts_command(args: argparse.Namespace) -> int:
    from domain.messages import DeliveryStatus
    from store.outbox import Outbox

    if args.action:
        return _alerts_operator_command(args)
    settings = read_settings()

    async def run() -> list:
        async with database(settings) as engine:
            outbox = Outbox(engine)
            return await (outbox.undelivered() if args.undelivered else outbox.all())

    messages = asyncio.run(run())
    for m in messages:
        error = f": {m.last_error}" if m.last_error and m.status is not DeliveryStatus.sent else ""
        print(f"#{m.id} {m.created_at:%Y-%m-%d %H:%M} {m.kind.value} to {m.destination.value} (lesson {m.lesson_id}) "
              f"{m.status.value}, {m.attempts} attempt(s){error}")
    if not messages:
        print("no undelivered cards" if args.undelivered else "no cards yet")
    return 0


# --- playground: Chaperone in dev mode for Microsoft 365 Agents Playground --------------------


def _playground_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--graph-port", type=int, default=3979, help="where the example school's Graph stand-in listens")


@subcommand("playground", "dev mode for Microsoft 365 Agents Playground: the example school, with a local Graph stand-in",
            _playground_arguments)
def playground_command(args: argparse.Namespace) -> int:
    import os

    try:
        from standins.graph import GraphStandIn
        from standins.school import seed
    except ImportError as exc:  # the stand-ins are not installed in production
        raise StartupError(f"the local stand-ins are not installed ({exc.name}): run from the source tree after scripts/setup.sh") from exc

    graph = seed(GraphStandIn()).start(port=args.graph_port)
    os.environ["CHAPERONE_DEV_MODE"] = "1"
    os.environ["CHAPERONE_GRAPH_BASE_URL"] = graph.base_url
    settings = read_settings()
    print(f"Chaperone (dev mode, the example school) on http://127.0.0.1:{settings.port}/api/messages; "
          f"Graph stand-in on {graph.base_url}\n"
          f"Now start the Playground in this folder: npx @microsoft/m365agentsplayground start -e "
          f"http://127.0.0.1:{settings.port}/api/messages -c msteams", flush=True)
    try:
        return serve(args)
    finally:
        graph.stop()


# --- doctor: is this deployment complete? ---------------------------------------------------


def _doctor_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--organizer", help="a teacher (email/UPN or Entra object id) whose meetings the Teams "
                                            "application access policy must cover")


@subcommand("doctor", "check the settings, policy, database, credentials, Graph permissions, access policy and channels",
            _doctor_arguments)
def doctor_command(args: argparse.Namespace) -> int:
    from admin.doctor import Check, Level, examine, report

    try:
        settings = read_settings()
    except StartupError as exc:
        print(report([Check("settings", Level.problem, str(exc), "fix the environment or .env (see .env.example)")]))
        return 1
    checks = [Check("settings", Level.ok, f"read ({'dev mode' if settings.dev_mode else 'authentication on'})")]
    policy = None
    try:
        policy = read_schools(settings)
        if policy.is_trust:
            checks.append(Check("policy file", Level.ok, f"{policy.name}: {len(policy)} schools ({', '.join(p.school.name for p in policy)}), "
                                                         f"and the default policy for lessons no school claims"))
        else:
            checks.append(Check("policy file", Level.ok, f"{policy.default.school.name}, {len(policy.default.clause_maps)} AUP document(s) adopted"))
    except StartupError as exc:
        checks.append(Check("policy file", Level.problem, str(exc), "fix the policy file (policy.example.toml is commented)"))
    checks += asyncio.run(examine(settings, policy, args.organizer))
    print(report(checks))
    return 1 if any(c.level is Level.problem for c in checks) else 0


# --- alerts retry / dismiss: an operator deals with cards that could not be delivered ---------


def _alerts_operator_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    retry = actions.add_parser("retry", help="deliver a card that failed once more (audited)")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("id", nargs="?", type=int, help="the card's number, from `alerts --undelivered`")
    which.add_argument("--all", action="store_true", help="every card that failed")
    dismiss = actions.add_parser("dismiss", help="give up on an undelivered card, with the reason (audited)")
    dismiss.add_argument("id", type=int)
    dismiss.add_argument("--reason", required=True, help="why it will not be delivered (kept in the audit log)")


OUTCOME_WORDS = {
    "unknown": "there is no card #{id}: see `alerts --undelivered`",
    "already-sent": "card #{id} was delivered already; nothing changed",
    "already-dismissed": "card #{id} was dismissed already; nothing changed",
    "still-trying": "card #{id} is still being tried (its delivery is queued); nothing changed",
}


def _alerts_operator_command(args: argparse.Namespace) -> int:
    from domain.messages import OperatorOutcome
    from store.outbox import Outbox

    settings = read_settings()
    operator = _operator()

    async def run() -> list[tuple[int, OperatorOutcome]]:
        async with database(settings) as engine:
            outbox = Outbox(engine)
            if args.action == "dismiss":
                reason = args.reason.strip()
                if not reason:
                    raise StartupError("--reason is empty: say why the card will not be delivered")
                return [(args.id, await outbox.dismiss(args.id, reason, operator))]
            ids = await outbox.failed_ids() if args.all else [args.id]
            return [(i, await outbox.retry(i, operator)) for i in ids]

    results = asyncio.run(run())
    done = "queued for delivery again" if args.action == "retry" else "dismissed"
    for message_id, outcome in results:
        if outcome is OperatorOutcome.done:
            print(f"card #{message_id} {done}")
        else:
            print(OUTCOME_WORDS[outcome.value].format(id=message_id), file=sys.stderr)
    if args.action == "retry" and args.all and not results:
        print("no card has failed: nothing to retry")
    return 0 if all(o is OperatorOutcome.done for _, o in results) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="app.py", description="Chaperone: safeguarding companion for live lessons in Teams")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, arguments, help_text) in SUBCOMMANDS.items():
        arguments(commands.add_parser(name, help=help_text))
    args = parser.parse_args(argv)
    name = args.command or "serve"
    logging.basicConfig(
        level=logging.INFO if name == "serve" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return SUBCOMMANDS[name][0](args)
    except (StartupError, ImportProblems) as exc:
        print(f"chaperone: {exc}", file=sys.stderr)
        return 2
