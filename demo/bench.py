"""`python app.py bench`: issue 14's figures, measured in one run on this machine.

Processes (this machine has 2 cores; none of them shares a GIL with another):
- the servers under test, started once and loaded in turn: a bare aiohttp server that reads
  and parses the JSON (demo/bench_bare.py), and Chaperone (`app.py serve`, authentication on);
- Microsoft's cloud (standins/load_cloud.py): the channel identity that signs the tokens,
  Graph (150 ms a request by default) and the Bot Connector, which notes each SLT alert;
- the load generator (demo/bench_load.py), one or more processes per phase, with every
  request built before its clock starts.

Figures are printed, never asserted: see the README's Benchmark section for what each means.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp

from config.startup import EXAMPLE_POLICY
from standins.server import free_port
from standins.teams import TeamsSimulator

from .bench_measure import Database, Settled, StartStages, cpu_seconds, machine_busy_seconds, percentile, rss_mb, settle
from .bench_workload import (
    APP_ID, SEATS, SLT, SLT_CHANNEL, SLT_TEAM, TITLE_PATTERN, Item, Kind, School, at_rate, items_to_json, lesson_block, morning,
    stream,
)

ROOT = Path(__file__).resolve().parent.parent
TENANT = "5f1b3a1e-0000-4000-8000-5c8001000001"
TEAMS_TIMEOUT = 15.0


@dataclass
class Options:
    rate: float = 625.0
    duration: float = 60.0
    throughput_seconds: float = 10.0
    throughput_events: int = 30_000
    concurrency: int = 64
    connections: int = 256
    clients: int = 1
    graph_latency: float = 0.15
    alert_lessons: int = 20
    graph_lessons: int = 10
    breach_every: int = 10
    overload: bool = False
    overload_rate: float = 2000.0
    overload_seconds: float = 20.0
    tail_rate: float = 50.0
    tail_seconds: float = 30.0
    trust: bool = False
    trust_lessons: int = 2500
    trust_span: float = 120.0
    schools: int = 1
    settle_timeout: float = 180.0
    database: str | None = None
    quick: bool = False
    # Worker processes beside Chaperone's HTTP front (CHAPERONE_RUN_WORKER=0); 0: one process does both.
    workers: int = 0
    # `--starts N`: what N breaching lessons' starts cost the worker, and nothing else.
    starts: int = 0

    @classmethod
    def quick_run(cls, **kw) -> "Options":
        return cls(rate=40, duration=3, throughput_seconds=2, throughput_events=400, concurrency=8, connections=32,
                   alert_lessons=2, graph_lessons=2, breach_every=2, overload_rate=80, overload_seconds=2, tail_rate=10,
                   tail_seconds=3, trust_lessons=6, trust_span=10, settle_timeout=45, quick=True, **{**kw, "starts": min(kw.get("starts", 0), 4)})


# ---- results -----------------------------------------------------------------------------


@dataclass
class Load:
    """The merged outcome of one phase's load generator(s)."""

    status: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    due: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    answers: list[float] = field(default_factory=list)  # open loop: each answer's own time, refusals included
    refused: int = 0  # open loop: 503s with Retry-After, each redelivered (as Teams does)
    starts: dict[int, float] = field(default_factory=dict)  # lesson -> monotonic instant its meetingStart was due
    start: float = 0.0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    client_cpu_total: float = 0.0  # the load generators' whole lives, building requests included

    @property
    def ok(self) -> int:
        return sum(1 for s in self.status if 200 <= s < 300)  # acknowledged

    @property
    def timeouts(self) -> int:
        return sum(1 for s in self.status if s == -1)

    @property
    def errors(self) -> int:
        return len(self.status) - self.ok - self.timeouts

    def ok_of(self, kind: str) -> int:
        return sum(1 for s, k in zip(self.status, self.kinds) if 200 <= s < 300 and k == kind)

    def error_kinds(self) -> str:
        counts: dict[int, int] = {}
        for s in self.status:
            if not 200 <= s < 300 and s != -1:
                counts[s] = counts.get(s, 0) + 1
        return ", ".join(f"{'connection error' if s == -2 else s}: {n}" for s, n in sorted(counts.items())) or "none"

    def ms(self, q: float) -> float:
        return percentile(self.latency, q) * 1000


@dataclass
class Phase:
    name: str
    load: Load
    cpu: float = 0.0  # server CPU seconds from before the load until idle again
    cpu_during: float = 0.0  # of which while the load ran
    settled: Settled | None = None
    others: float = 0.0  # CPU seconds the rest of the machine (not this benchmark) used meanwhile
    wall: float = 0.0
    stored: int | None = None
    table: str | None = None

    def expected_rows(self) -> int:
        # inbound_events: one row per accepted meeting activity; participant_events: one per person per join.
        return self.load.ok if self.table == "inbound_events" else self.load.ok_of(Kind.join.value)


# ---- the processes -------------------------------------------------------------------------


class Cloud:
    def __init__(self, run: str, breach_every: int, lessons: int, graph_latency: float, schools: int = 1) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "standins.load_cloud"], cwd=ROOT, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.process.stdin.write(json.dumps({"run": run, "breach_every": breach_every, "lessons": lessons,
                                             "graph_latency": graph_latency, "schools": schools}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the cloud stand-ins did not start")
        self.info = json.loads(line)

    async def get(self, path: str) -> object:
        async with aiohttp.ClientSession() as session, session.get(self.info["control"] + path) as response:
            return await response.json()

    async def post(self, path: str, body: dict | None = None) -> None:
        async with aiohttp.ClientSession() as session, session.post(self.info["control"] + path, json=body or {}) as response:
            await response.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


class Server:
    running: list["Server"] = []

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None, port: int | None = None,
                 workers: int = 0) -> None:
        self.name = name
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("ab") as sink:  # its log lines would drown the figures
            if workers:
                env = {**env, "CHAPERONE_RUN_WORKER": "0"}
            self.process = subprocess.Popen(argv + ([str(self.port)] if env is None else []), cwd=ROOT, env=env,
                                            stdout=sink, stderr=subprocess.STDOUT)
            # `python app.py worker` processes beside the front, on the same database.
            self.workers = [subprocess.Popen([sys.executable, str(ROOT / "app.py"), "worker"], cwd=ROOT, env=env,
                                             stdout=sink, stderr=subprocess.STDOUT) for _ in range(workers)]
        Server.running.append(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def pids(self) -> list[int]:
        """The front and its worker processes: the server's CPU and memory are all of theirs."""
        return [self.process.pid] + [w.pid for w in self.workers]

    def cpu(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids)

    def rss(self) -> str:
        if not self.workers:
            return f"{rss_mb(self.pid):.0f} MB"
        sizes = [rss_mb(p) for p in self.pids]
        return f"{sum(sizes):.0f} MB (front {sizes[0]:.0f} MB, workers " + " + ".join(f"{s:.0f}" for s in sizes[1:]) + " MB)"

    async def healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode} before becoming healthy: see {self.log}")
                try:
                    async with session.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy in time")

    def stop(self) -> None:
        for process in [self.process, *self.workers]:
            if process.poll() is None:
                process.terminate()
        for process in [self.process, *self.workers]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def bench_policy(workdir: Path) -> Path:
    """The example school's policy, open every hour of every day, so a lesson at any time of
    the run breaches only what the benchmark means it to (the waiting room). Its calendar
    sweep and call-record catch-up are off: they would start 5 and 10 minutes in, whichever
    phase was running, and their CPU is not the meeting events'."""
    lines, out, in_hours = EXAMPLE_POLICY.read_text(encoding="utf-8").splitlines(), [], False
    for line in lines:
        if line.strip() == "[hours]":
            in_hours = True
            out.append(line)
            out += [f'{day} = "00:00-23:59"' for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")]
            continue
        if in_hours and (line.startswith("[") or line.startswith("#")):
            in_hours = False
        if not in_hours:
            out.append(line)
    text = "\n".join(out) + "\n"
    for on, off in (("[enrolment]\nenabled = true", "[enrolment]\nenabled = false"), ("call_records = true", "call_records = false")):
        if on not in text:
            raise RuntimeError(f"policy.example.toml has changed: no {on!r} to turn off for the benchmark")
        text = text.replace(on, off)
    path = workdir / "bench-policy.toml"
    path.write_text(text, encoding="utf-8")
    # Its relative paths (the AUP text) resolve beside it, as beside the example.
    (workdir / "policies").symlink_to(EXAMPLE_POLICY.parent / "policies", target_is_directory=True)
    return path


EXAMPLE_SLT_ID = "00000000-0000-4000-8000-00000000a001"  # policy.example.toml's first SLT member
EXAMPLE_STAFF_LINE = 'staff_group_ids = ["00000000-0000-4000-8000-00000000e002"]'


def bench_trust(workdir: Path, policy: Path, school: School) -> Path:
    """A trust file for `school.schools` schools, each the bench policy with its own id, name,
    staff group and senior leader, and the trust's default policy (id "trust", no staff group,
    the example's SLT), in `workdir` beside `policy`."""
    text = policy.read_text(encoding="utf-8")
    for needle in ('[school]\nname = "Valence School"', EXAMPLE_SLT_ID, EXAMPLE_STAFF_LINE):
        if needle not in text:
            raise RuntimeError(f"the example policy changed: {needle!r} not found; update demo/bench.py bench_trust")
    files = []
    for k in range(school.schools):
        own = (text.replace('[school]\nname = "Valence School"', f'[school]\nname = "Bench school {k:03d}"\nid = "{school.school_id(k)}"')
               .replace(EXAMPLE_SLT_ID, school.slt(k).aad_object_id)
               .replace(EXAMPLE_STAFF_LINE, f'staff_group_ids = ["{school.staff_group(k)}"]'))
        name = f"{school.school_id(k)}.toml"
        (workdir / name).write_text(own, encoding="utf-8")
        files.append(name)
    default = (text.replace('[school]\nname = "Valence School"', '[school]\nname = "Bench Trust"\nid = "trust"')
               .replace(EXAMPLE_STAFF_LINE, "staff_group_ids = []"))
    (workdir / "trust-default.toml").write_text(default, encoding="utf-8")
    path = workdir / "bench-trust.toml"
    path.write_text("\n".join([
        "[trust]", 'name = "Bench Trust"', f"schools = {json.dumps(files)}", 'default_policy = "trust-default.toml"', "",
    ]), encoding="utf-8")
    return path


def chaperone_env(cloud: Cloud, database_url: str, policy: Path, port: int) -> dict[str, str]:
    info = cloud.info
    return {
        **os.environ,
        "MicrosoftAppId": APP_ID,
        # The bot signs in to the Bot Connector as a managed identity: the cloud process answers
        # as App Service's identity endpoint does (there is no login.microsoftonline.com here).
        "MicrosoftAppType": "UserAssignedMSI",
        "MicrosoftAppTenantId": TENANT,
        "IDENTITY_ENDPOINT": info["msi"],
        "IDENTITY_HEADER": info["msi_header"],
        "CHAPERONE_DEV_MODE": "0",
        "CHAPERONE_BOT_OPENID_METADATA_URL": info["metadata"],
        "CHAPERONE_BOT_TOKEN_ISSUER": info["issuer"],
        "CHAPERONE_ALLOWED_SERVICE_HOSTS": "127.0.0.1",
        "CHAPERONE_GRAPH_BASE_URL": info["graph"],
        "CHAPERONE_DATABASE_URL": database_url,
        "CHAPERONE_POLICY_FILE": str(policy),
        "CHAPERONE_LOG_LEVEL": os.environ.get("CHAPERONE_LOG_LEVEL", "WARNING"),  # INFO: the whole story of the run
        "PORT": str(port),
        "HOST": "127.0.0.1",
    }


# ---- one phase of load ---------------------------------------------------------------------


async def drive(server: Server, cloud: Cloud, school: School, items: list[Item], *, mode: str, opts: Options, tag: str,
                token: bool = True) -> Load:
    """Post `items` from `opts.clients` load generator processes; their event times start at
    the instant the load does (a margin is left for building the requests)."""
    clients = max(1, min(opts.clients, len(items)))
    origin = time.time() + 1.0 + len(items) * 60e-6
    procs = []
    for c in range(clients):
        share = items[c::clients]
        plan = {
            "host": "127.0.0.1", "port": server.port, "token": cloud.info["token"] if token else None,
            "service_url": cloud.info["connector"] + "/", "school": {"run": school.run, "breach_every": school.breach_every},
            "items": items_to_json(share), "origin_wall": origin, "mode": mode, "tag": f"{tag}{c}",
            "concurrency": max(1, opts.concurrency // clients), "connections": max(1, opts.connections // clients),
            "duration": opts.throughput_seconds, "timeout": TEAMS_TIMEOUT,
        }
        proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "demo.bench_load", cwd=ROOT,
                                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append((proc, json.dumps(plan).encode()))
    outputs = await asyncio.gather(*(proc.communicate(data) for proc, data in procs))
    load = Load()
    for (proc, _), (stdout, _) in zip(procs, outputs):
        if proc.returncode != 0:
            raise RuntimeError(f"the load generator failed ({proc.returncode})")
        part = json.loads(stdout)
        load.status += part["status"]
        load.latency += part["latency"]
        load.due += part["due"]
        load.kinds += part["kinds"]
        load.answers += part.get("answers", [])
        load.refused += part.get("refused", 0)
        load.starts.update({int(k): v for k, v in part["starts"].items()})
        load.start = part["start"]
        load.elapsed = max(load.elapsed, part["elapsed"])
        load.client_cpu += part["client_cpu"]
        load.client_cpu_total += part["client_cpu_total"]
    return load


async def phase(name: str, server: Server, cloud: Cloud, school: School, items: list[Item], *, mode: str, opts: Options,
                db: Database | None, tag: str) -> Phase:
    stored_before = await db.events() if db else None
    ours = [*server.pids, cloud.process.pid, os.getpid()] + [p for s in Server.running if s is not server for p in s.pids]
    ours_before, machine_before, wall_before = sum(map(cpu_seconds, ours)), machine_busy_seconds(), time.monotonic()
    cpu_before = server.cpu()
    load = await drive(server, cloud, school, items, mode=mode, opts=opts, tag=tag)
    cpu_during = server.cpu() - cpu_before
    settled = await settle(server.pids, db, opts.settle_timeout)
    ours_used = sum(map(cpu_seconds, ours)) - ours_before + load.client_cpu_total
    result = Phase(name, load, cpu=server.cpu() - cpu_before, cpu_during=cpu_during, settled=settled,
                   others=max(0.0, machine_busy_seconds() - machine_before - ours_used), wall=time.monotonic() - wall_before)
    if db:
        result.table = db.table
        result.stored = await db.events() - stored_before
    return result


class Lessons:
    """Hands out lesson numbers; the cloud registers every lesson (and its 30 people) handed out."""

    def __init__(self, breach_every: int) -> None:
        self.next = 0
        self.breach_every = breach_every

    def take(self, count: int) -> int:
        first = self.next
        self.next += count
        return first

    def breaching(self, count: int, school: School) -> list[int]:
        first = self.take(max(1, count * max(1, self.breach_every)))
        return [n for n in range(first, self.next) if school.breaches(n)][:count]


# ---- the report ---------------------------------------------------------------------------


def fmt_latency(load: Load) -> str:
    line = f"p50 {load.ms(0.5):.1f} ms, p99 {load.ms(0.99):.1f} ms, max {max(load.latency, default=0) * 1000:.1f} ms"
    if load.refused:
        # A redelivered request's latency runs to its last answer; each answer's own time here.
        line += f" (to the last answer); slowest single answer {max(load.answers, default=0) * 1000:.1f} ms"
    return line


def fmt_outcome(load: Load) -> str:
    return (f"{len(load.status)} sent, {load.ok} ok, {load.errors} errors ({load.error_kinds()}), "
            f"{load.timeouts} timeouts (> {TEAMS_TIMEOUT:.0f} s)"
            + (f", {load.refused} answers of 503 'retry later', each delivered again after its Retry-After as Teams does" if load.refused else ""))


def client_line(load: Load) -> str:
    return f"client CPU {load.client_cpu:.1f} s over {load.elapsed:.1f} s ({100 * load.client_cpu / max(load.elapsed, 1e-9):.0f} % of a core)"


def stored_line(p: Phase) -> str:
    if p.stored is None:
        return "stored: (no database)"
    expected = p.expected_rows()
    if p.table is None:
        return "stored: no event table found (neither inbound_events nor participant_events)"
    lost = max(0, expected - p.stored)
    extra = max(0, p.stored - expected)
    verdict = f"{lost} acknowledged but NOT stored" if lost else "every acknowledged event stored"
    return (f"stored: {p.stored} rows in {p.table} for {expected} acknowledged; {verdict}"
            + (f" ({extra} stored but not acknowledged, e.g. answered after the client gave up)" if extra else ""))


def cpu_line(p: Phase) -> str:
    ok = max(p.load.ok, 1)
    idle = (f"idle again {p.settled.seconds:.0f} s after the load" if p.settled and p.settled.idle
            else f"NOT idle {p.settled.seconds:.0f} s after the load ({p.settled.due_jobs} jobs due): a lower bound" if p.settled else "")
    # Requests answered after the client gave up were worked on too: per stored event as well.
    stored = (f"; {1000 * p.cpu / p.stored:.2f} per stored {p.table} row" if p.stored and p.stored > p.expected_rows() else "")
    return (f"CPU ms/event: {1000 * p.cpu / ok:.2f} incl. follow-up ({1000 * p.cpu_during / ok:.2f} during the load, "
            f"{1000 * (p.cpu - p.cpu_during) / ok:.2f} after it; {p.cpu:.1f} s CPU for {p.load.ok} acknowledged events{stored}; {idle})")


def alert_lines(load: Load, alerts: list[list], lessons: list[int], label: str) -> list[str]:
    first: dict[int, float] = {}
    for arrived, lesson, _ in alerts:
        if lesson is not None and (lesson not in first or arrived < first[lesson]):
            first[lesson] = arrived
    latencies = [first[n] - load.starts[n] for n in lessons if n in load.starts and n in first]
    started = sum(1 for n in lessons if n in load.starts)
    missing = started - len(latencies)
    if not latencies:
        return [f"meetingStart -> SLT alert ({label}): no alert arrived for any of {started} breaching lessons started"]
    return [f"meetingStart -> SLT alert ({label}): p50 {percentile(latencies, 0.5):.2f} s, p99 {percentile(latencies, 0.99):.2f} s, "
            f"max {max(latencies):.2f} s over {len(latencies)} breaching lessons"
            + (f"; {missing} started but got NO alert" if missing else "")]


def stage_lines(stages: list[StartStages], wave_gap: float = 4.0) -> list[str]:
    """Where a start's way to SLT spent its time, and how long each wave of starts took to be
    derived: an alert's wait is mostly its place in its wave."""
    def spread(values: list[float]) -> str:
        return f"p50 {percentile(values, 0.5):.2f} s, p99 {percentile(values, 0.99):.2f} s" if values else "none"

    derived = [s for s in stages if s.derived]
    alerted = [s for s in derived if s.alert_queued and s.alert_sent]
    lines = [f"where the time went (database clock): meetingStart logged -> lesson derived {spread([(s.derived - s.logged).total_seconds() for s in derived])} "
             f"over {len(derived)} starts" + (f" ({len(stages) - len(derived)} NOT derived)" if len(derived) < len(stages) else "")
             + f"; derived -> SLT alert queued {spread([(s.alert_queued - s.derived).total_seconds() for s in alerted])}, "
             f"queued -> sent {spread([(s.alert_sent - s.alert_queued).total_seconds() for s in alerted])}"]
    waves: list[list[StartStages]] = []
    for stage in sorted(stages, key=lambda s: s.logged):
        if waves and (stage.logged - waves[-1][-1].logged).total_seconds() <= wave_gap:
            waves[-1].append(stage)
        else:
            waves.append([stage])
    if waves and all(s.derived for s in stages):
        sizes = [len(w) for w in waves]
        spans = [(w[-1].logged - w[0].logged).total_seconds() for w in waves]
        drains = [(max(s.derived for s in w) - w[0].logged).total_seconds() for w in waves]
        lines.append(f"waves: {len(waves)} of {min(sizes)} to {max(sizes)} starts, each logged within {max(spans):.1f} s; "
                     f"a wave's starts all derived {min(drains):.1f} to {max(drains):.1f} s after its first was logged")
    return lines


def windows(load: Load, seconds: int) -> list[tuple[int, int, float]]:
    """Per second of due time: (second, requests, p99 ms), timeouts and errors included."""
    buckets: dict[int, list[float]] = {}
    for due, latency in zip(load.due, load.latency):
        buckets.setdefault(int(due - load.start), []).append(latency)
    return [(s, len(buckets.get(s, [])), percentile(buckets.get(s, []), 0.99) * 1000) for s in range(seconds)]


# ---- the run --------------------------------------------------------------------------------


async def run_bench(opts: Options) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chaperone-bench-"))
    database_url = opts.database or f"sqlite+aiosqlite:///{workdir}/bench.sqlite3"
    run = uuid.uuid4().hex[:8]
    school = School(run, opts.breach_every, opts.schools)
    lessons = Lessons(opts.breach_every)

    # Every phase's activities, planned before the cloud starts (it registers their people).
    plan: dict[str, list[Item]] = {}
    if opts.starts:
        plan["starts"] = [Item(Kind.start, n, 0, 0.0) for n in lessons.breaching(opts.starts, school)]
    elif opts.trust:
        plan["trust"] = morning(lessons.take(opts.trust_lessons), opts.trust_lessons, span=opts.trust_span)
    else:
        graph_first = lessons.take(opts.graph_lessons)
        plan["graph-starts"] = [Item(Kind.start, n, 0, 0.0) for n in range(graph_first, graph_first + opts.graph_lessons)]
        plan["graph-people"] = [Item(Kind.join, n, s, 0.0) for n in range(graph_first, graph_first + opts.graph_lessons)
                                for s in range(1, SEATS)]  # the organizer was looked up at the start
        alert_lessons = lessons.breaching(opts.alert_lessons, school)
        plan["alert"] = sorted((Item(i.kind, i.lesson, i.seat, 0.0 if i.kind is Kind.start else 0.5 + 0.2 * i.seat)
                                for n in alert_lessons for i in lesson_block(n)), key=lambda i: i.at)
        plan["throughput"] = stream(lessons.take(math.ceil(opts.throughput_events / (SEATS + 1))), opts.throughput_events)
        count = int(opts.rate * opts.duration)
        plan["rate"] = at_rate(stream(lessons.take(math.ceil(count / (SEATS + 1))), count), opts.rate)
        if opts.overload:
            burst = int(opts.overload_rate * opts.overload_seconds)
            tail = int(opts.tail_rate * opts.tail_seconds)
            items = stream(lessons.take(math.ceil((burst + tail) / (SEATS + 1))), burst + tail)
            plan["overload"] = at_rate(items[:burst], opts.overload_rate) + [
                Item(i.kind, i.lesson, i.seat, opts.overload_seconds + n / opts.tail_rate) for n, i in enumerate(items[burst:])]

    cloud = Cloud(run, opts.breach_every, lessons.next, opts.graph_latency, school.schools)
    bare = chaperone = None
    db = None
    try:
        policy = bench_policy(workdir)
        if school.is_trust:
            policy = bench_trust(workdir, policy, school)
        chaperone_port = free_port()
        chaperone = Server("chaperone", [sys.executable, str(ROOT / "app.py"), "serve"], workdir / "chaperone.log",
                           env=chaperone_env(cloud, database_url, policy, chaperone_port), port=chaperone_port, workers=opts.workers)
        if not opts.trust and not opts.starts:
            bare = Server("bare aiohttp", [sys.executable, "-m", "demo.bench_bare"], workdir / "bare.log")
            await bare.healthy()
        await chaperone.healthy()
        db = Database(database_url)
        await set_alert_channel(chaperone, cloud, school)
        table = await db.event_table()
        print(f"Chaperone benchmark, run {run}: authentication ON, database {database_url.split('@')[-1]}, "
              f"Graph latency {opts.graph_latency * 1000:.0f} ms, {lessons.next} lessons ({lessons.next * SEATS} people) "
              f"registered; 1 lesson in {opts.breach_every} has its lobby open (an SLT alert); event table: {table}; "
              f"Chaperone's log: {chaperone.log}"
              + (f"; {opts.workers} worker process(es) beside the HTTP front (CHAPERONE_RUN_WORKER=0)" if opts.workers else ""),
              flush=True)
        if opts.starts:
            return await lesson_starts(opts, cloud, chaperone, db, school, plan["starts"])
        if opts.trust:
            return await trust(opts, school, cloud, chaperone, db, plan)
        return await standard(opts, school, cloud, bare, chaperone, db, plan, alert_lessons)
    finally:
        if db:
            await db.close()
        for server in (bare, chaperone):
            if server:
                server.stop()
        cloud.stop()


async def set_alert_channel(chaperone: Server, cloud: Cloud, school: School) -> None:
    """The SLT alert channel: in a trust each school's senior leader sets their school's (all
    the same channel here, where the connector stand-in times alerts), and the default
    policy's SLT the trust's."""
    token = cloud.info["token"]
    teams = TeamsSimulator(chaperone.url, cloud.info["connector"], token=lambda _: token)
    leaders = [school.slt(k) for k in range(school.schools)] if school.is_trust else []
    for leader in leaders + [SLT]:
        status, body = await teams.post(teams.channel_message("set alert channel", leader, team_id=SLT_TEAM, channel_id=SLT_CHANNEL))
        if status != 200:
            raise RuntimeError(f"setting the SLT alert channel failed: {status} {body}")


async def standard(opts: Options, school: School, cloud: Cloud, bare: Server, chaperone: Server, db: Database,
                   plan: dict[str, list[Item]], alert_lessons: list[int]) -> int:
    out = functools.partial(print, flush=True)
    # Graph cost: lesson starts alone, then their people joining (all new to Chaperone).
    await cloud.post("/reset")
    starts = await phase("graph-starts", chaperone, cloud, school, plan["graph-starts"], mode="closed", opts=opts, db=db, tag="gs")
    per_start = (await cloud.get("/stats"))
    await cloud.post("/reset")
    people = await phase("graph-people", chaperone, cloud, school, plan["graph-people"], mode="closed", opts=opts, db=db, tag="gp")
    per_person = (await cloud.get("/stats"))
    out(f"Graph requests per lesson start: {per_start['graph'] / max(starts.load.ok, 1):.2f} "
        f"({per_start['graph']} for {starts.load.ok} starts: {shapes(per_start)})")
    out(f"Graph requests per new person: {per_person['graph'] / max(people.load.ok, 1):.2f} "
        f"({per_person['graph']} for {people.load.ok} people new to Chaperone joining: {shapes(per_person)})")

    # Alert latency, Chaperone otherwise quiet: breaching lessons start together, classes join.
    await cloud.post("/reset")
    alert = await phase("alert", chaperone, cloud, school, plan["alert"], mode="open", opts=opts, db=db, tag="al")
    for line in alert_lines(alert.load, await cloud.get("/alerts"), alert_lessons,
                            f"{len(alert_lessons)} lessons starting together, Graph {opts.graph_latency * 1000:.0f} ms"):
        out(line)
    out(f"  {interference(alert)}")

    reports = {"throughput": report_throughput, "rate": report_rate, "overload": report_overload}
    for name in ["throughput", "rate"] + (["overload"] if opts.overload else []):
        pair = []
        for server in (bare, chaperone):  # in turn, on the same activities
            mode = "closed" if name == "throughput" else "open"
            pair.append(await phase(name, server, cloud, school, plan[name], mode=mode, opts=opts,
                                    db=db if server is chaperone else None, tag=f"{name[:2]}{server.name[0]}"))
        reports[name](opts, *pair)

    lessons_open = await db.lessons()
    out(f"\nRSS: chaperone {chaperone.rss()} with {lessons_open} open lessons "
        f"(bare aiohttp {rss_mb(bare.pid):.0f} MB)")
    return 0


def report_throughput(opts: Options, tb: Phase, tc: Phase) -> None:
    out = functools.partial(print, flush=True)
    out(f"\n== events/s: max throughput, closed loop, {opts.concurrency} in flight, up to {opts.throughput_seconds:.0f} s ==")
    for p, label in ((tb, "bare aiohttp"), (tc, "chaperone")):
        out(f"  {label:<12} {p.load.ok / max(p.load.elapsed, 1e-9):6.0f} events/s ({fmt_outcome(p.load)}; {fmt_latency(p.load)}; "
            f"{client_line(p.load)})")
    ratio = (tc.load.ok / max(tc.load.elapsed, 1e-9)) / max(tb.load.ok / max(tb.load.elapsed, 1e-9), 1e-9)
    out(f"  ratio chaperone/bare: {100 * ratio:.2f} %")
    out(f"  chaperone {cpu_line(tc)}")
    out(f"  chaperone {stored_line(tc)}")
    out(f"  {interference(tb, tc)}")


def report_rate(opts: Options, rb: Phase, rc: Phase) -> None:
    out = functools.partial(print, flush=True)
    out(f"\n== fixed rate: {opts.rate:.0f} events/s offered for {opts.duration:.0f} s, open loop, latency from the scheduled send ==")
    for p, label in ((rb, "bare aiohttp"), (rc, "chaperone")):
        out(f"  {label:<12} {fmt_latency(p.load)}; {fmt_outcome(p.load)}; {client_line(p.load)}")
    out(f"  ratio chaperone/bare: p99 {rc.load.ms(0.99) / max(rb.load.ms(0.99), 1e-9):.1f}x, "
        f"acknowledged {100 * rc.load.ok / max(rb.load.ok, 1):.2f} %")
    out(f"  chaperone {cpu_line(rc)}")
    out(f"  chaperone {stored_line(rc)}")
    out(f"  {interference(rb, rc)}")


def report_overload(opts: Options, ob: Phase, oc: Phase) -> None:
    out = functools.partial(print, flush=True)
    seconds = int(opts.overload_seconds + opts.tail_seconds)
    out(f"\n== overload: {opts.overload_rate:.0f}/s for {opts.overload_seconds:.0f} s, then {opts.tail_rate:.0f}/s "
        f"for {opts.tail_seconds:.0f} s ==")
    for p, label in ((ob, "bare aiohttp"), (oc, "chaperone")):
        out(f"  {label:<12} {fmt_latency(p.load)}; {fmt_outcome(p.load)}; {client_line(p.load)}")
        out(f"  {label:<12} recovery: {recovery(p.load, opts)}")
        out(f"  {label:<12} per-second p99 (ms): " + " ".join(f"{ms:.0f}" for _, n, ms in windows(p.load, seconds) if n))
    out(f"  chaperone {stored_line(oc)}")
    out(f"  {interference(ob, oc)}")


def interference(*phases: Phase) -> str:
    """Other processes on this machine (not the benchmark's) take CPU from what is measured."""
    parts = [f"{p.others / max(p.wall, 1e-9) * 100:.0f} % of a core while {'bare aiohttp' if n == 0 and len(phases) > 1 else 'chaperone'} ran"
             for n, p in enumerate(phases)]
    return "other processes on this machine: " + ", ".join(parts)


def shapes(stats: dict) -> str:
    return ", ".join(f"{n} {shape}" for shape, n in sorted(stats["graph_by_shape"].items(), key=lambda kv: -kv[1])) or "none"


def recovery(load: Load, opts: Options) -> str:
    seconds = int(opts.overload_seconds + opts.tail_seconds)
    rows = windows(load, seconds)
    burst_end = int(opts.overload_seconds)
    first = next((s for s in range(burst_end, seconds) if rows[s][1] and rows[s][2] < 50), None)
    # A one-second blip later (e.g. another process on the machine) shows here, not hidden.
    note = f" (first second under 50 ms: {first - burst_end} s after)" if first is not None else ""
    for s in range(burst_end, seconds):
        if all(ms < 50 for _, n, ms in rows[s:] if n):
            return f"p99 under 50 ms for good from {s - burst_end} s after the burst ended{note}"
    return f"p99 NOT back under 50 ms for good within the {opts.tail_seconds:.0f} s tail{note}"


async def trust(opts: Options, school: School, cloud: Cloud, chaperone: Server, db: Database, plan: dict[str, list[Item]]) -> int:
    out = functools.partial(print, flush=True)
    items = plan["trust"]
    lessons = sorted({i.lesson for i in items})
    breaching = [n for n in lessons if school.breaches(n)]
    out(f"09:00: {len(lessons)} lessons of {SEATS} ({len(items)} activities) over {opts.trust_span:.0f} s in bursts, "
        f"{school.schools} school(s)" + (" in one trust (each lesson's staff in its school's staff group)" if school.is_trust else "")
        + f"; {len(breaching)} lessons breach", flush=True)
    await cloud.post("/reset")
    since = datetime.now(timezone.utc) - timedelta(seconds=1)  # the database's clock is this machine's
    p = await phase("trust", chaperone, cloud, school, items, mode="open", opts=opts, db=db, tag="tr")
    stats = await cloud.get("/stats")
    per_second = [n for _, n, _ in windows(p.load, int(opts.trust_span) + 1)]
    out(f"  offered: mean {len(items) / opts.trust_span:.0f}/s, peak {max(per_second, default=0)}/s (per-second windows)")
    out(f"  HTTP: {fmt_latency(p.load)}; {fmt_outcome(p.load)}; {client_line(p.load)}")
    for line in alert_lines(p.load, await cloud.get("/alerts"), breaching, "during the 09:00 scenario"):
        out(f"  {line}")
    if (stages := await db.start_stages(since)) is not None:
        for line in stage_lines(stages):
            out(f"  {line}")
    out(f"  {stored_line(p)}")
    out(f"  {cpu_line(p)}")
    out(f"  Graph requests: {stats['graph']} in all, {stats['graph'] / max(len(lessons), 1):.2f} per lesson, "
        f"{stats['graph'] / max(len(lessons) * SEATS, 1):.2f} per person ({shapes(stats)})")
    out(f"  RSS: chaperone {chaperone.rss()} with {await db.lessons()} open lessons")
    if school.is_trust:
        out(f"  {placement_line(await db.placements(), school)}")
    out(f"  {interference(p)}")
    return 0


async def lesson_starts(opts: Options, cloud: Cloud, chaperone: Server, db: Database, school: School, items: list[Item]) -> int:
    """What a lesson's start costs the worker, alone: breaching lessons' meetingStarts are logged
    while the worker processes are stopped (SIGSTOP), then they are let go; their CPU from then
    until every lesson's SLT alert has arrived, divided by the starts (the derivation, Graph's and
    the Bot Connector's look-ups, placement, the verdicts, the reminder, warning and alert)."""
    out = functools.partial(print, flush=True)
    if not chaperone.workers:
        out("--starts measures the worker processes: give --workers 1 (and a PostgreSQL --database)")
        return 2
    lessons = [i.lesson for i in items]
    out(f"lesson starts: {len(lessons)} breaching lessons' meetingStarts logged with the worker stopped, then the worker let go"
        + (f"; {school.schools} schools in one trust" if school.is_trust else ""))
    for worker in chaperone.workers:
        os.kill(worker.pid, signal.SIGSTOP)
    try:
        await cloud.post("/reset")
        load = await drive(chaperone, cloud, school, items, mode="closed", opts=opts, tag="st")
        await asyncio.sleep(1.0)  # the front's last commits reach pg_stat_database
        transactions = await db.transactions()
        cpu, began = sum(cpu_seconds(w.pid) for w in chaperone.workers), time.monotonic()
    finally:
        for worker in chaperone.workers:
            os.kill(worker.pid, signal.SIGCONT)
    arrived: dict[int, float] = {}
    while len(arrived) < len(lessons) and time.monotonic() - began < opts.settle_timeout:
        await asyncio.sleep(0.1)
        for at, lesson, _ in await cloud.get("/alerts"):
            if lesson in lessons:
                arrived.setdefault(lesson, at)
    cpu = sum(cpu_seconds(w.pid) for w in chaperone.workers) - cpu
    await asyncio.sleep(1.0)
    transactions = (await db.transactions() - transactions) if transactions is not None else None
    stats = await cloud.get("/stats")
    started = max(load.ok, 1)
    waits = sorted(at - began for at in arrived.values())
    out(f"  acknowledged {load.ok} of {len(items)} meetingStarts; SLT alerts for {len(arrived)} of {len(lessons)} lessons"
        + (f", the last {waits[-1]:.1f} s after the worker was let go (p50 {percentile(waits, 0.5):.1f} s)" if waits else ""))
    out(f"  worker CPU per lesson start: {1000 * cpu / started:.1f} ms ({cpu:.1f} s for {load.ok} starts"
        + (", not all alerted yet: a lower bound)" if len(arrived) < len(lessons) else ")"))
    if transactions is not None:
        out(f"  PostgreSQL transactions per lesson start: {transactions / started:.1f} (a statement run on its own is one)")
    out(f"  Graph requests per lesson start: {stats['graph'] / started:.2f} ({shapes(stats)})")
    return 0


def placement_line(placed: list[tuple[str, str | None, str | None]], school: School) -> str:
    """How many lessons were placed in their own school (by staff group), and how the rest were."""
    right, other = 0, {}
    for title, school_id, placement in placed:
        found = re.fullmatch(TITLE_PATTERN, title or "")
        expected = school.school_id(school.school_of(int(found.group(1)))) if found else None
        if school_id == expected and placement == "staff-group":
            right += 1
        else:
            other[placement or "?"] = other.get(placement or "?", 0) + 1
    rest = ", ".join(f"{n} {p}" for p, n in sorted(other.items()))
    return f"placement: {right} of {len(placed)} lessons placed in their own school by staff group" + (f"; others: {rest}" if rest else "")
