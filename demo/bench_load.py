"""The benchmark's load generator, run as a process of its own (`python -m demo.bench_load`),
so the client's CPU does not come out of the server's.

It reads a plan (JSON) on stdin, builds every request (headers and body, as bytes) before
its clock starts, then posts them over raw HTTP/1.1 keep-alive connections (asyncio streams;
no client library in the measured path), and writes the outcome of each request (JSON) on
stdout, with its own CPU use so a reader can judge whether the client was the bottleneck.

- open loop: each request is due at a scheduled instant and is sent then, whatever has been
  answered; its latency is measured from the SCHEDULED instant, so time spent waiting for a
  free connection in the client counts. A request not answered within `timeout` seconds of its
  scheduled instant (Teams gives up after 15 s) is a timeout, sent or not. A 503 with
  Retry-After is delivered again after that delay, as Teams redelivers it, while the 15 s
  last; the request's latency runs to its last answer, and each answer's own time is kept too.
- closed loop: `concurrency` connections each send the next request as soon as the last is
  answered, until the requests run out or `duration` passes; latency from the actual send.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from demo.bench_workload import Kind, School, build_bodies, items_from_json, utc_now

TIMEOUT = -1  # status recorded for a request not answered in time
FAILED = -2  # status recorded for a connection error


@dataclass
class Outcome:
    status: list[int] = field(default_factory=list)
    latency: list[float] = field(default_factory=list)
    due: list[float] = field(default_factory=list)  # monotonic instant each request was due (or sent, closed loop)
    answers: list[float] = field(default_factory=list)  # open loop: every answer's time, a refusal's included
    refused: int = 0  # open loop: answers of 503 with Retry-After, each delivered again


class Connection:
    """One keep-alive HTTP/1.1 connection that sends prepared requests and reads the status."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def exchange(self, request: bytes) -> int:
        return (await self.exchange_with_retry_after(request))[0]

    async def exchange_with_retry_after(self, request: bytes) -> tuple[int, float | None]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close, retry_after = 0, False, False, None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
            elif name == b"retry-after":
                retry_after = float(value)
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status, retry_after

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def prepare(plan: dict) -> list[bytes]:
    school = School(plan["school"]["run"], plan["school"]["breach_every"])
    items = items_from_json(plan["items"])
    origin = datetime.fromtimestamp(plan["origin_wall"], timezone.utc) if plan.get("origin_wall") else utc_now()
    bodies = build_bodies(school, items, plan["service_url"], origin, plan["tag"])
    head = (
        f"POST {plan.get('path', '/api/messages')} HTTP/1.1\r\nHost: {plan['host']}:{plan['port']}\r\n"
        + (f"Authorization: Bearer {plan['token']}\r\n" if plan.get("token") else "")
        + "Content-Type: application/json\r\nContent-Length: "
    ).encode()
    return [head + str(len(b)).encode() + b"\r\n\r\n" + b for b in bodies]


async def open_loop(plan: dict, requests: list[bytes], offsets: list[float], start: float) -> Outcome:
    timeout = plan["timeout"]
    out = Outcome(status=[0] * len(requests), latency=[0.0] * len(requests), due=[start + o for o in offsets])
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()  # (request, instant this delivery is due)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    remaining = [len(requests)]

    def finish(n: int, status: int) -> None:
        out.status[n] = status
        out.latency[n] = time.monotonic() - out.due[n]
        remaining[0] -= 1
        if remaining[0] == 0:
            done.set()

    async def worker() -> None:
        connection = Connection(plan["host"], plan["port"])
        while True:
            n, due = await queue.get()
            left = out.due[n] + timeout - time.monotonic()
            if left <= 0:
                finish(n, TIMEOUT)  # waited its whole 15 s in the client
                continue
            retry_after = None
            try:
                status, retry_after = await asyncio.wait_for(connection.exchange_with_retry_after(requests[n]), left)
            except asyncio.TimeoutError:
                connection.close()  # the answer may still come: this connection cannot be reused
                status = TIMEOUT
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                connection.close()
                status = FAILED
            answered = time.monotonic()
            if status != TIMEOUT:
                out.answers.append(answered - due)
            if status == 503 and retry_after is not None and answered + retry_after < out.due[n] + timeout:
                out.refused += 1
                loop.call_later(retry_after, queue.put_nowait, (n, answered + retry_after))
                continue
            finish(n, status)

    workers = [asyncio.create_task(worker()) for _ in range(plan["connections"])]
    for n, due in enumerate(out.due):
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((n, due))
    if requests:
        await done.wait()
    for w in workers:
        w.cancel()
    return out


async def closed_loop(plan: dict, requests: list[bytes], start: float) -> Outcome:
    out = Outcome()
    timeout, deadline = plan["timeout"], start + plan["duration"]
    position = [0]

    async def worker() -> None:
        connection = Connection(plan["host"], plan["port"])
        while position[0] < len(requests) and time.monotonic() < deadline:
            n = position[0]
            position[0] += 1
            sent = time.monotonic()
            try:
                status = await asyncio.wait_for(connection.exchange(requests[n]), timeout)
            except asyncio.TimeoutError:
                connection.close()
                status = TIMEOUT
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                connection.close()
                status = FAILED
            out.status.append(status)
            out.latency.append(time.monotonic() - sent)
            out.due.append(sent)
        connection.close()

    delay = start - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)
    await asyncio.gather(*(worker() for _ in range(plan["concurrency"])))
    return out


async def run(plan: dict) -> dict:
    requests = prepare(plan)
    items = plan["items"]
    # The phase starts at the wall-clock instant the event times were stamped from.
    start = time.monotonic() + max(0.0, (plan.get("origin_wall") or time.time()) - time.time())
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    began = time.monotonic()
    if plan["mode"] == "open":
        out = await open_loop(plan, requests, [row[3] for row in items], start)
    else:
        out = await closed_loop(plan, requests, start)
    ended = time.monotonic()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    starts = {str(items[n][1]): out.due[n] for n in range(len(out.status)) if items[n][0] == Kind.start.value and 200 <= out.status[n] < 300}
    return {
        "status": out.status, "latency": out.latency, "due": out.due, "start": start, "answers": out.answers, "refused": out.refused,
        "elapsed": ended - max(start, began), "client_cpu": cpu, "starts": starts,
        "client_cpu_total": cpu_after.ru_utime + cpu_after.ru_stime,  # building the requests too
        "kinds": [items[n][0] for n in range(len(out.status))],
    }


def main() -> None:
    plan = json.load(sys.stdin)
    result = asyncio.run(run(plan))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
