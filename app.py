"""Chaperone: the composition root and the one entry point.

    python app.py [serve]      run the bot endpoint (POST /api/messages, GET /healthz)
    python app.py migrate      bring the database schema up to date and exit
    python app.py demo         follow a scripted school morning through the real endpoint
    python app.py bench        measure participant-event throughput with authentication on

Adding a subcommand is one function decorated with @subcommand.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web
from pydantic import ValidationError
from pydantic_settings import SettingsError

from bot.adapter import ChaperoneAdapter
from bot.assessment import LessonAssessor
from bot.auth import build_authentication
from bot.connector import BotConnector, TokenSource, token_source
from bot.handler import ChaperoneBot
from bot.lessons import LessonMonitor
from bot.notifier import Notifier
from bot.worker import Worker
from config.policy import Policy, PolicyError, load_policy
from config.settings import Settings
from graph.attendance import AttendanceReports
from graph.calendar import CalendarReader
from graph.client import GraphClient
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from store.conversations import ConversationStore
from store.db import create_engine, migrate, ping
from rules import registry
from store.findings import FindingStore
from store.jobs import JobStore
from store.lessons import LessonStore
from store.register import ExceptionRegister
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
    worker = Worker(jobs, poll_seconds=settings.job_poll_seconds)
    connector = BotConnector(settings, http, tokens)
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
        LessonAssessor(lessons, findings, exceptions, school_data, jobs, policy),
        policy,
        settings.attendance_report_delays,
    )
    adapter = ChaperoneAdapter(settings, build_authentication(settings))
    bot = ChaperoneBot(monitor, conversations, policy)
    notifier = Notifier(adapter, conversations, settings)
    worker.start()
    return Services(
        settings, policy, engine, http, tokens, graph, lessons, conversations, jobs, findings, exceptions, school_data,
        worker, adapter, bot, notifier,
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
        body = {
            "status": "ok" if problem is None else "degraded",
            "database": "ok" if problem is None else f"unreachable: {problem}",
            "authentication": "on" if settings.auth_enabled else "off (dev mode)",
            "school": policy.school.name,
        }
        return web.json_response(body, status=200 if problem is None else 503)

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
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
    except StartupError as exc:
        print(f"chaperone: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
