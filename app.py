"""Chaperone: the composition root and the one entry point.

    python app.py [serve]      run the bot endpoint (POST /api/messages, GET /healthz)
    python app.py migrate      bring the database schema up to date and exit
    python app.py demo         follow a scripted school morning through the real endpoint
    python app.py bench        measure participant-event throughput with authentication on
    python app.py rules        list the rules, their clauses, and whether the policy enables them
    python app.py import-timetable FILE / import-consent FILE   load the school's registers
    python app.py exceptions add|list|revoke                    the exceptions register
    python app.py cards --out DIR      every card Chaperone sends, with sample data
    python app.py alerts [--undelivered]   cards queued, sent, or not delivered
    python app.py aup status|remind    who has signed the current AUP; remind those who have not
    python app.py export signatures --format csv   the signature register
    python app.py purge                delete what is past its retention period
    python app.py manifest --out build/chaperone.zip   the Teams app package

Adding a subcommand is one function decorated with @subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
from importlib import metadata
import csv
import getpass
import io
import json
import logging
import sys
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.adapter import ChaperoneAdapter
from bot import notes
from bot.alerts import Alerts
from bot.aup import AupSigning
from bot.card_actions import CardActions
from bot.assessment import LessonAssessor
from bot.auth import build_authentication
from bot.connector import BotConnector, TokenSource, token_source
from bot.handler import ChaperoneBot
from bot.lessons import LessonMonitor
from bot.notifier import NoDestination, Notifier
from bot.retention import RetentionSchedule
from bot.worker import Worker
from cards.gallery import gallery
from config.policy import Person, Policy, PolicyError, load_policy
from config.settings import Settings
from graph.attendance import AttendanceReports
from graph.calendar import CalendarReader
from graph.client import GraphClient, GraphUnavailable
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from store.conversations import ConversationStore
from store.db import create_engine, migrate, ping
from importers.common import ImportProblems
from manifest.package import ManifestError
from manifest.package import build as build_package
from importers.consent import parse_consents
from importers.timetable import parse_timetable
from rules import registry
from store.findings import FindingStore
from store.jobs import JobStore
from store.lessons import LessonStore
from store.outbox import Outbox
from store.register import ExceptionRegister
from store.retention import purge
from store.signatures import SignatureRegister
from store.school_data import SchoolData

log = logging.getLogger("chaperone")

EXAMPLE_POLICY = Path(__file__).parent / "policy.example.toml"
MAX_ACTIVITY_BYTES = 256 * 1024


class StartupError(RuntimeError):
    """A configuration problem that must stop the service, with a message for the operator."""


def read_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "\n".join(f"  {'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise StartupError(f"invalid settings:\n{problems}") from exc
    except SettingsError as exc:
        raise StartupError(f"invalid settings: {exc}") from exc


def read_policy(settings: Settings) -> Policy:
    path = settings.policy_file
    if path is None:
        if not settings.dev_mode:
            raise StartupError("CHAPERONE_POLICY_FILE is not set: point it at the school's policy file")
        log.warning("dev mode: no CHAPERONE_POLICY_FILE, using %s", EXAMPLE_POLICY.name)
        path = EXAMPLE_POLICY
    try:
        policy = load_policy(path)
        registry.check_policy(policy)
        policy.aup_document()  # a missing AUP text is a start-up error, not a surprise later
        return policy
    except PolicyError as exc:
        raise StartupError(str(exc)) from exc


@dataclass
class Services:
    """Everything one running Chaperone holds; built once, closed on shutdown."""

    settings: Settings
    policy: Policy
    engine: object
    http: aiohttp.ClientSession
    tokens: TokenSource
    graph: GraphClient
    lessons: LessonStore
    conversations: ConversationStore
    jobs: JobStore
    findings: FindingStore
    exceptions: ExceptionRegister
    school_data: SchoolData
    outbox: Outbox
    signatures: SignatureRegister
    signing: AupSigning
    worker: Worker
    adapter: ChaperoneAdapter
    bot: ChaperoneBot
    notifier: Notifier

    async def close(self) -> None:
        await self.worker.stop()
        await self.http.close()
        await self.tokens.close()
        await self.graph.close()
        await self.engine.dispose()


async def build_services(settings: Settings, policy: Policy) -> Services:
    engine = create_engine(settings.database_url)
    await migrate(engine)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
    tokens = token_source(settings)
    graph = GraphClient(settings)
    lessons = LessonStore(engine)
    conversations = ConversationStore(engine)
    jobs = JobStore(engine)
    findings = FindingStore(engine)
    exceptions = ExceptionRegister(engine)
    school_data = SchoolData(engine)
    worker = Worker(jobs, poll_seconds=settings.job_poll_seconds, retry_base_seconds=settings.retry_base_seconds)
    connector = BotConnector(settings, http, tokens)
    adapter = ChaperoneAdapter(settings, build_authentication(settings))
    notifier = Notifier(adapter, conversations, settings)
    outbox = Outbox(engine)
    signatures = SignatureRegister(engine)
    aup_document = policy.aup_document()
    alerts = Alerts(outbox, lessons, findings, school_data, notifier, connector, worker, policy, settings)
    people = PeopleDirectory(
        graph,
        staff_groups=policy.people.staff_group_ids,
        pupil_groups=policy.people.pupil_group_ids,
        ttl_seconds=settings.graph_cache_ttl_seconds,
    )
    monitor = LessonMonitor(
        lessons,
        worker,
        connector,
        MeetingReader(graph),
        CalendarReader(graph),
        people,
        AttendanceReports(graph),
        LessonAssessor(lessons, findings, exceptions, school_data, signatures, aup_document, jobs, policy),
        alerts,
        policy,
        settings.attendance_report_delays,
        settings.roster_settle_seconds,
    )
    signing = AupSigning(aup_document, signatures, graph, notifier, conversations, policy)
    signing.schedule(worker, jobs)
    actions = CardActions(outbox, alerts, lessons, exceptions, signing, policy)
    bot = ChaperoneBot(monitor, conversations, actions, signing, policy)
    await RetentionSchedule(engine, jobs, worker, policy.retention).start()
    await signing.start_schedule()
    worker.start()
    return Services(
        settings, policy, engine, http, tokens, graph, lessons, conversations, jobs, findings, exceptions, school_data,
        outbox, signatures, signing, worker, adapter, bot, notifier,
    )


SERVICES = web.AppKey("services", Services)


def create_app(settings: Settings, policy: Policy) -> web.Application:
    app = web.Application(client_max_size=MAX_ACTIVITY_BYTES)

    async def lifecycle(app: web.Application):
        app[SERVICES] = await build_services(settings, policy)
        yield
        await app[SERVICES].close()

    async def messages(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        return await services.adapter.process(request, services.bot)

    async def healthz(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        problem = await ping(services.engine)
        undelivered = len(await services.outbox.undelivered()) if problem is None else None
        body = {
            "status": "ok" if problem is None and not undelivered else "degraded",
            "database": "ok" if problem is None else f"unreachable: {problem}",
            # Cards not yet delivered (pending or failed): see `python app.py alerts --undelivered`.
            "undelivered_messages": undelivered,
            "authentication": "on" if settings.auth_enabled else "off (dev mode)",
            "school": policy.school.name,
        }
        return web.json_response(body, status=200 if problem is None else 503)

    async def note(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        try:
            message_id = int(request.match_info["message_id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        if not notes.valid(settings.link_key, message_id, request.query.get("sig", "")):
            raise web.HTTPForbidden(text="This link is not valid.")
        message = await services.outbox.get_or_none(message_id)
        if message is None or message.kind != "teacher-warning":
            raise web.HTTPNotFound()
        wanted = set(message.finding_ids)
        findings = [f for f in await services.findings.for_lesson(message.lesson_id) if f.id in wanted]
        lesson = await services.lessons.get(message.lesson_id, with_attendance=False)
        return notes.note_page(lesson.title, findings)

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/notes/{message_id}", note)
    return app


# ---- command line -------------------------------------------------------------------

SUBCOMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], Callable[[argparse.ArgumentParser], None], str]] = {}


def subcommand(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None] = lambda p: None):
    def register(fn: Callable[[argparse.Namespace], int]):
        SUBCOMMANDS[name] = (fn, arguments, help)
        return fn

    return register


@subcommand("serve", "run the bot endpoint (the default)")
def serve(args: argparse.Namespace) -> int:
    settings = read_settings()
    logging.getLogger().setLevel(settings.log_level.upper())
    policy = read_policy(settings)
    if settings.dev_mode:
        log.warning("DEV MODE: Bot Framework authentication is OFF; only loopback service URLs are used")
    web.run_app(create_app(settings, policy), host=settings.bind_host, port=settings.port, print=None)
    return 0


@subcommand("migrate", "bring the database schema up to date and exit")
def migrate_command(args: argparse.Namespace) -> int:
    settings = read_settings()

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    asyncio.run(run())
    print(f"schema up to date: {settings.database_url.split('@')[-1]}")
    return 0


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file under ./data/)")


@subcommand("demo", "follow a scripted school morning through the real endpoint and print a report", _demo_arguments)
def demo_command(args: argparse.Namespace) -> int:
    from demo.morning import run_demo

    return asyncio.run(run_demo(database_url=args.database))


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--events", type=int, default=2000, help="participant-join events to post")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight at once")
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")


@subcommand("bench", "measure participant-join events/s and latency with authentication on", _bench_arguments)
def bench_command(args: argparse.Namespace) -> int:
    from demo.bench import run_bench

    return asyncio.run(run_bench(events=args.events, concurrency=args.concurrency, database_url=args.database))


@asynccontextmanager
async def database(settings: Settings):
    """The migrated database engine, for admin commands that do not run the bot."""
    engine = create_engine(settings.database_url)
    try:
        await migrate(engine)
        yield engine
    finally:
        await engine.dispose()


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


@subcommand("rules", "list every rule with its id, severity, clause and whether the policy enables it")
def rules_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)
    for rule in registry.RULES:
        options = rule.options_for(policy)
        state = "on " if options.enabled else "off"
        print(f"[{state}] {rule.id:<22} {rule.severity_for(policy).value:<8} {rule.title}")
        for clause in rule.clauses:
            print(f"        \"{clause.text}\"\n          - {clause.document}")
        print(f"        fix: {rule.remediation}\n")
    return 0


def _file_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the file exported from the school's MIS")


@subcommand("import-timetable", "replace the timetable with a CSV or iCalendar (.ics) export", _file_argument)
def import_timetable_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)
    entries = parse_timetable(_read(args.file), str(args.file), policy.school.zone)

    async def run() -> int:
        async with database(settings) as engine:
            return await SchoolData(engine).replace_timetable(entries, _operator(), str(args.file))

    print(f"imported {asyncio.run(run())} timetable entries from {args.file}")
    return 0


@subcommand("import-consent", "replace the parental consent register with a CSV export", _file_argument)
def import_consent_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    consents = parse_consents(_read(args.file), str(args.file))

    async def run() -> int:
        async with database(settings) as engine:
            return await SchoolData(engine).replace_consents(consents, _operator(), str(args.file))

    print(f"imported {asyncio.run(run())} consent records from {args.file}")
    return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StartupError(f"cannot read {path}: {exc.strerror}") from exc


def _exception_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="record an exception SLT or the DSL approved")
    add.add_argument("--rule", required=True, choices=sorted(registry.BY_ID))
    scope = add.add_mutually_exclusive_group(required=True)
    scope.add_argument("--lesson", type=int, help="one lesson (its id)")
    scope.add_argument("--meeting", help="a recurring series (its Teams meeting id)")
    scope.add_argument("--person", help="a person (Entra object id)")
    add.add_argument("--reason", required=True)
    add.add_argument("--approver", required=True, help="Entra object id of the SLT member or DSL who approved it")
    add.add_argument("--expires", type=date.fromisoformat, help="last day it applies (YYYY-MM-DD)")
    actions.add_parser("list", help="list the register")
    revoke = actions.add_parser("revoke", help="withdraw an exception")
    revoke.add_argument("id", type=int)
    revoke.add_argument("--by", required=True, help="Entra object id of the SLT member or DSL withdrawing it")


def _approver(policy: Policy, aad_id: str) -> Person:
    for person in policy.people.slt + policy.people.dsl:
        if person.aad_object_id == aad_id:
            return person
    raise StartupError(f"{aad_id} is not SLT or the DSL in the policy: only they can approve or withdraw exceptions")


@subcommand("exceptions", "the exceptions register: add, list, revoke", _exception_arguments)
def exceptions_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)

    async def run() -> None:
        async with database(settings) as engine:
            register = ExceptionRegister(engine)
            if args.action == "add":
                approver = _approver(policy, args.approver)
                expires = None
                if args.expires:
                    expires = datetime.combine(args.expires + timedelta(days=1), time(0), tzinfo=policy.school.zone)
                approved = await register.approve(
                    rule_id=args.rule, reason=args.reason, approver_id=approver.aad_object_id, approver_name=approver.name,
                    lesson_id=args.lesson, meeting_id=args.meeting, person_id=args.person, expires_at=expires,
                )
                print(f"exception #{approved.id} recorded: {args.rule}, approved by {approver.name}")
            elif args.action == "revoke":
                person = _approver(policy, args.by)
                done = await register.revoke(args.id, person.aad_object_id, person.name)
                print(f"exception #{args.id} {'withdrawn' if done else 'not found or already withdrawn'}")
            else:
                for row in await register.list():
                    scope = f"lesson {row.lesson_id}" if row.lesson_id else f"series {row.meeting_id}" if row.meeting_id else f"person {row.person_id}"
                    state = "withdrawn" if row.revoked_at else f"until {row.expires_at:%Y-%m-%d %H:%M}" if row.expires_at else "no expiry"
                    print(f"#{row.id} {row.rule_id} {scope} by {row.approved_by_name} ({state}): {row.reason}")

    asyncio.run(run())
    return 0


@subcommand("purge", "delete personal data older than the policy's retention periods, now")
def purge_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)

    async def run() -> dict[str, int]:
        async with database(settings) as engine:
            return await purge(engine, policy.retention, datetime.now(timezone.utc))

    for what, count in asyncio.run(run()).items():
        print(f"{count:>6} {what} deleted")
    return 0


@asynccontextmanager
async def running_services(settings: Settings, policy: Policy):
    """Chaperone's services without the HTTP endpoint, for commands that send or read Graph."""
    services = await build_services(settings, policy)
    try:
        yield services
    finally:
        await services.close()


def _aup_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="signed / not signed, per member of staff, for the current version")
    actions.add_parser("remind", help="send each unsigned member of staff a reminder (at most once per interval)")


@subcommand("aup", "the AUP signature register: status, remind", _aup_arguments)
def aup_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)
    if policy.aup is None:
        raise StartupError("the policy names no AUP: add an [aup] table with source and version")

    async def run() -> int:
        async with running_services(settings, policy) as services:
            try:
                if args.action == "remind":
                    reminded, skipped = await services.signing.remind()
                    print(f"reminded {reminded} member(s) of staff; {skipped} reminded within the last {policy.aup.remind_interval_days} days")
                    return 0
                rows = await services.signing.status()
            except (GraphUnavailable, NoDestination) as exc:
                raise StartupError(str(exc)) from exc
        print(f"{policy.aup_document().title}, version {policy.aup.version}")
        for row in rows:
            state = f"signed {row.signed_at:%Y-%m-%d %H:%M} as {row.position}" if row.signed_at else "NOT SIGNED"
            print(f"  {row.member.name or row.member.aad_object_id:<30} {row.member.upn or '':<35} {state}")
        print(f"{sum(1 for r in rows if r.signed_at)} of {len(rows)} signed")
        return 0

    return asyncio.run(run())


def _export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=["signatures"])
    parser.add_argument("--format", choices=["csv"], default="csv")
    parser.add_argument("--out", type=Path, help="file to write (default: standard output)")


@subcommand("export", "export a register: signatures (CSV)", _export_arguments)
def export_command(args: argparse.Namespace) -> int:
    settings = read_settings()

    async def run() -> list:
        async with database(settings) as engine:
            return await SignatureRegister(engine).all()

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


def _manifest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("build/chaperone.zip"), help="the package to write")
    parser.add_argument("--version", default=None, help="the app version (default: Chaperone's own)")
    parser.add_argument("--developer", default=None, help="who publishes the app in your tenant (default: the school)")


@subcommand("manifest", "build the Teams app package (manifest.json and icons) a Teams admin uploads", _manifest_arguments)
def manifest_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)
    try:
        manifest = build_package(
            args.out,
            app_id=settings.app_id,
            version=args.version or metadata.version("chaperone"),
            public_url=settings.public_url,
            developer_name=args.developer or policy.school.name,
        )
    except ManifestError as exc:
        raise StartupError(str(exc)) from exc
    print(f"wrote {args.out}: Teams app {manifest['id']} version {manifest['version']} for {manifest['validDomains'][0]}")
    return 0


def _gallery_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="folder to write one .json file per card into")


@subcommand("cards", "write every card Chaperone can send, with sample data, as .json files", _gallery_arguments)
def cards_command(args: argparse.Namespace) -> int:
    settings = read_settings()
    policy = read_policy(settings)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, card in gallery(policy).items():
        path = args.out / f"{name}.json"
        path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"{path} ({path.stat().st_size} bytes)")
    return 0


def _alerts_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--undelivered", action="store_true", help="only the cards that have not been delivered")


@subcommand("alerts", "list the cards Chaperone has queued or sent (reminders, warnings, alerts, summaries)", _alerts_arguments)
def alerts_command(args: argparse.Namespace) -> int:
    settings = read_settings()

    async def run() -> list:
        async with database(settings) as engine:
            outbox = Outbox(engine)
            return await (outbox.undelivered() if args.undelivered else outbox.all())

    messages = asyncio.run(run())
    for m in messages:
        error = f": {m.last_error}" if m.last_error and m.status != "sent" else ""
        print(f"#{m.id} {m.created_at:%Y-%m-%d %H:%M} {m.kind} to {m.destination} (lesson {m.lesson_id}) {m.status}, {m.attempts} attempt(s){error}")
    if not messages:
        print("no undelivered cards" if args.undelivered else "no cards yet")
    return 0


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


if __name__ == "__main__":
    sys.exit(main())
