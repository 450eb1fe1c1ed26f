"""Chaperone: the composition root and the aiohttp application.

`python app.py COMMAND` runs the command line (cli.py); `python app.py` serves the bot.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":
    # The command line first, before the imports below: most commands need neither
    # botbuilder nor msgraph, and those imports take seconds. `serve` imports this module.
    from cli import main

    sys.exit(main())

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import http_log
from bot.adapter import ChaperoneAdapter
from bot.auth import build_authentication
from bot.card_actions import CardActions
from bot.commands import Commands
from bot.handler import ChaperoneBot
from bot.ingest import MeetingEventIngest
from config.policy import Policy
from config.trust import Schools
from config.settings import Settings
from graph.attendance import AttendanceReports
from graph.calendar import CalendarReader
from graph.call_records import CallRecords
from graph.client import GraphClient
from graph.meetings import MeetingReader
from graph.people import PeopleDirectory
from graph.recordings import Recordings
from graph.signins import SignInLogs
from jobs.retention import RetentionSchedule
from legal.privacy import privacy_notice
from legal.terms import terms_of_use
from jobs.worker import Worker
from outbound.connector import BotConnector, TokenSource, token_source
from outbound.delivery import Delivery
from outbound.notes import Notes
from outbound.notifier import Notifier
from service.assessment import LessonAssessor
from service.aup import AupSigning
from service.chats_report import StaffPupilChatsReport
from service.compose import CardComposer
from service.coverage import CoverageSummary
from service.enrolment import EnrolmentService
from service.escalation import AlertEscalation
from service.subscriptions import GraphSubscriptions, NotificationError, parse_notifications
from service.unmonitored import UnmonitoredSessions
from service.monitor import LessonMonitor
from service.notices import LessonNotices
from service.placement import LessonPlacement
from store.conversations import ConversationStore
from store.coverage import Coverage
from store.enrolment import EnrolmentStore
from store.subscriptions import SubscriptionStore
from store.db import create_engine, migrate, ping
from store.directory_cache import DirectoryCache
from store.event_log import EventLog, EventLogReader
from store.findings import FindingStore
from store.job_wakeups import JobWakeups
from store.jobs import JobStore
from store.lessons import LessonStore
from store.outbox import Outbox
from store.register import ExceptionRegister
from store.school_data import SchoolData
from store.signatures import SignatureRegister
from store.exports import Exports
from store.records import Records
from store.tab_actions import TabActions
from tab.context import TabServices
from tab.routes import Tab, build_tab, install as install_tab
from tab.settings import TabSettings
from telemetry import metrics
from telemetry.http import timed

MAX_ACTIVITY_BYTES = 256 * 1024
MAX_VALIDATION_TOKEN = 2048


@dataclass
class Services:
    """Everything one running Chaperone holds; built once, closed on shutdown."""

    settings: Settings
    schools: Schools
    policy: Policy  # the single school's, or the trust's default policy
    engine: AsyncEngine
    ingest_engine: AsyncEngine
    event_log: EventLog
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
    chats_report: StaffPupilChatsReport
    worker: Worker
    adapter: ChaperoneAdapter
    bot: ChaperoneBot
    notifier: Notifier
    notes: Notes
    tab: Tab
    enrolment: EnrolmentService
    unmonitored: UnmonitoredSessions
    subscriptions: GraphSubscriptions
    coverage_summary: CoverageSummary
    escalation: AlertEscalation
    wakeups: JobWakeups

    async def close(self) -> None:
        await self.event_log.close()
        await self.worker.stop()
        await self.outbox.drain()  # sent cards and finished jobs not yet recorded (a few ms' worth)
        await self.jobs.drain()
        await self.wakeups.close()
        await self.http.close()
        await self.tokens.close()
        await self.graph.close()
        await self.engine.dispose()
        await self.ingest_engine.dispose()


def as_schools(policy: Policy | Schools) -> Schools:
    """A single school's policy is a deployment of one school."""
    return policy if isinstance(policy, Schools) else Schools.single(policy)


async def build_services(settings: Settings, policy: Policy | Schools, tab_settings: TabSettings | None = None,
                         run_worker: bool | None = None) -> Services:
    """Everything one running Chaperone holds. `run_worker` (default: the setting) starts the
    job worker; a front that only answers Teams leaves it to `python app.py worker` processes."""
    schools = as_schools(policy)
    policy = schools.default
    engine = create_engine(settings.database_url)
    # Meeting events are appended on connections of their own: a busy worker never makes Teams wait.
    ingest_engine = create_engine(settings.database_url, pool_size=settings.ingest_connections)
    await migrate(engine)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
    tokens = token_source(settings)
    graph = GraphClient(settings)
    lessons = LessonStore(engine, sole_school=schools.sole.school.id if schools.sole else None)
    conversations = ConversationStore(engine)
    jobs = JobStore(engine)
    findings = FindingStore(engine)
    exceptions = ExceptionRegister(engine, schools)
    school_data = SchoolData(engine)
    outbox = Outbox(engine)
    signatures = SignatureRegister(engine)
    event_log = EventLog(ingest_engine, max_waiting=settings.ingest_max_waiting, writers=settings.ingest_connections)
    worker = Worker(jobs, poll_seconds=settings.job_poll_seconds, retry_base_seconds=settings.retry_base_seconds,
                    concurrency=settings.worker_concurrency, pressure=event_log.busy)
    event_log.on_written(worker.wake)
    connector = BotConnector(settings, http, tokens)
    adapter = ChaperoneAdapter(settings, build_authentication(settings), http, replies=outbox)
    notifier = Notifier(adapter, conversations, settings)

    # Outbound: cards composed from stored facts, delivered from the outbox.
    composer = CardComposer(lessons=lessons, findings=findings, outbox=outbox, school_data=school_data, schools=schools)
    delivery = Delivery(outbox=outbox, lessons=lessons, composer=composer, notifier=notifier, connector=connector, worker=worker,
                        schools=schools, settings=settings)
    escalation = AlertEscalation(outbox=outbox, lessons=lessons, conversations=conversations, schools=schools)
    escalation.schedule(worker, jobs)

    # The lesson service: follow each lesson, judge it, decide whom to tell.
    people = PeopleDirectory(graph, staff_groups=schools.staff_group_ids, pupil_groups=schools.pupil_group_ids,
                             ttl_seconds=settings.graph_cache_ttl_seconds, shared=DirectoryCache(engine))
    assessor = LessonAssessor(engine=engine, lessons=lessons, findings=findings, exceptions=exceptions, school_data=school_data,
                              signatures=signatures, schools=schools)
    notices = LessonNotices(outbox=outbox, worker=worker, schools=schools)
    placement = LessonPlacement(graph=graph, schools=schools, school_data=school_data, lessons=lessons)
    monitor = LessonMonitor(
        store=lessons, worker=worker, connector=connector, meetings=MeetingReader(graph), calendar=CalendarReader(graph),
        people=people, reports=AttendanceReports(graph), recordings=Recordings(graph), sign_ins=SignInLogs(graph), jobs=jobs, assessor=assessor,
        notices=notices, delivery=delivery, schools=schools, placement=placement,
        report_delays=settings.attendance_report_delays, event_log=EventLogReader(engine), roster_settle_seconds=settings.roster_settle_seconds,
        retry_base_seconds=settings.retry_base_seconds,
    )
    signing = AupSigning(register=signatures, graph=graph, notifier=notifier, conversations=conversations, schools=schools)
    signing.schedule(worker, jobs)
    chats_report = StaffPupilChatsReport(graph=graph, people=people, outbox=outbox, conversations=conversations, schools=schools)
    chats_report.schedule(worker, jobs)

    # Enrolment: Chaperone installs itself in each lesson, finds the sessions it missed, and
    # keeps its Graph subscriptions (calendars, call records) renewed from any instance.
    enrolment_store = EnrolmentStore(engine)
    enrolment = EnrolmentService(graph=graph, people=people, store=enrolment_store, schools=schools, placement=placement,
                                 app_id=settings.teams_app_id)
    enrolment.schedule(worker, jobs)
    unmonitored = UnmonitoredSessions(records=CallRecords(graph), people=people, store=enrolment_store, lessons=lessons,
                                      assessor=assessor, notices=notices, schools=schools, placement=placement,
                                      retry_base_seconds=settings.retry_base_seconds)
    unmonitored.schedule(worker, jobs)
    subscriptions = GraphSubscriptions(graph=graph, store=SubscriptionStore(engine), enrolment=enrolment, unmonitored=unmonitored,
                                       schools=schools, notification_url=settings.notification_url)
    subscriptions.schedule(worker, jobs)
    coverage_summary = CoverageSummary(coverage=Coverage(engine), outbox=outbox, schools=schools)
    coverage_summary.schedule(worker, jobs)

    # Inbound: the activity handler and its tables of card actions and commands.
    actions = CardActions(outbox=outbox, composer=composer, lessons=lessons, exceptions=exceptions, signing=signing,
                          worker=worker, schools=schools, placement=placement)
    commands = Commands(conversations=conversations, signing=signing, schools=schools)
    adapter.ingest_meeting_events(MeetingEventIngest(
        log_writer=event_log, log_reader=EventLogReader(engine), monitor=monitor, conversations=conversations, worker=worker,
        school_tenant=schools.tenants,
    ))
    bot = ChaperoneBot(conversations=conversations, actions=actions, commands=commands, signing=signing,
                       schools=schools)
    notes = Notes(key=settings.link_key, outbox=outbox, findings=findings, lessons=lessons)
    tab = build_tab(http=http, services=tab_services(engine, schools, exceptions, signatures, signing,
                                                               tab_settings or TabSettings.for_app(settings)))

    await RetentionSchedule(engine, jobs, worker, schools=schools).start()
    await signing.start_schedule()
    await chats_report.start_schedule()
    await enrolment.start_schedule()
    await subscriptions.start_schedule()
    await unmonitored.start_schedule()
    await coverage_summary.start_schedule()
    await escalation.start_schedule()
    wakeups = JobWakeups(engine, worker.wake)
    if run_worker if run_worker is not None else settings.run_worker:
        # Work queued by another process (an HTTP front) wakes this worker at once (PostgreSQL).
        await wakeups.start()
        worker.start()
    return Services(
        settings=settings, schools=schools, policy=policy, engine=engine, ingest_engine=ingest_engine, event_log=event_log, http=http, tokens=tokens, graph=graph, lessons=lessons,
        conversations=conversations, jobs=jobs, findings=findings, exceptions=exceptions, school_data=school_data,
        outbox=outbox, signatures=signatures, signing=signing, chats_report=chats_report, worker=worker, adapter=adapter, bot=bot,
        notifier=notifier, notes=notes, tab=tab, enrolment=enrolment, unmonitored=unmonitored, subscriptions=subscriptions,
        coverage_summary=coverage_summary, escalation=escalation, wakeups=wakeups,
    )


def tab_services(engine: AsyncEngine, schools: Schools, exceptions: ExceptionRegister, signatures: SignatureRegister, signing: AupSigning,
                 tab_settings: TabSettings) -> TabServices:
    return TabServices(records=Records(engine), exports=Exports(engine), actions=TabActions(engine), exceptions=exceptions,
                       signatures=signatures, staff=signing, schools=schools, settings=tab_settings,
                       coverage=Coverage(engine))


SERVICES = web.AppKey("services", Services)


def static_page(html: str):
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    return page


def server_options(settings: Settings) -> dict:
    """aiohttp server options, for `serve` and in-process runs alike. A connection's idle timer
    runs from connect until a request's headers are complete, so it is also the header timeout:
    a client trickling headers (slowloris) is cut off after it."""
    return {"keepalive_timeout": settings.header_timeout_seconds}


def create_app(settings: Settings, policy: Policy | Schools, tab_settings: TabSettings | None = None) -> web.Application:
    http_log.install()
    schools = as_schools(policy)
    policy = schools.default
    app = web.Application(client_max_size=MAX_ACTIVITY_BYTES, middlewares=[timed])

    async def lifecycle(app: web.Application):
        app[SERVICES] = await build_services(settings, schools, tab_settings)
        yield
        await app[SERVICES].close()

    async def messages(request: web.Request) -> web.Response:
        services = request.app[SERVICES]
        return await services.adapter.process(request, services.bot)

    async def graph_notifications(request: web.Request) -> web.Response:
        # Graph's validation handshake: echo the token, as text/plain, at once (Graph waits 10 s).
        token = request.query.get("validationToken")
        if token is not None:
            if not token or len(token) > MAX_VALIDATION_TOKEN:
                return web.Response(status=400, text="validationToken is empty or too long")
            return web.Response(text=token, content_type="text/plain")
        if request.content_length is not None and request.content_length > MAX_ACTIVITY_BYTES:
            return web.json_response({"error": "the body is too large"}, status=413)
        try:
            notifications = parse_notifications(await request.read())
        except NotificationError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        received = await request.app[SERVICES].subscriptions.receive(notifications)
        if received.refused and not received.accepted:
            # Unknown subscription or the wrong clientState: nothing was done.
            return web.json_response({"error": "clientState does not match a subscription Chaperone holds"}, status=403)
        return web.Response(status=202)

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
            "school": schools.name,
        }
        return web.json_response(body, status=200 if problem is None else 503)

    async def note(request: web.Request) -> web.Response:
        return await request.app[SERVICES].notes.page(request)

    async def metrics_page(request: web.Request) -> web.Response:
        # Jobs are counted in the database at scrape time: every instance's, not only this one's.
        metrics.set_jobs(await request.app[SERVICES].jobs.counts())
        return web.Response(body=metrics.exposition(), headers={"Content-Type": metrics.CONTENT_TYPE})

    app.cleanup_ctx.append(lifecycle)
    app.router.add_post("/api/messages", messages)
    app.router.add_post("/api/graph/notifications", graph_notifications)  # Graph change notifications
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/notes/{message_id}", note)
    install_tab(app, lambda request: request.app[SERVICES].tab)  # the Teams tab: /tab, /tab/api/...
    app.router.add_get("/metrics", metrics_page)
    # The manifest's privacyUrl and termsOfUseUrl, written from the policy file once.
    for path, html in (("/privacy", privacy_notice(policy)), ("/terms", terms_of_use(policy))):
        app.router.add_get(path, static_page(html))
    return app
