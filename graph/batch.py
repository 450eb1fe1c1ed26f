"""Graph JSON batching (`POST /$batch`, up to 20 requests in one), read as plain JSON.

A lesson's reads (`GraphClient.get_json` and `GraphClient.batch`: its meeting's options, the
calendar, who is who, the schools) go through one `Batcher` per process: questions asked at
about the same moment, by any lesson, wait a few milliseconds (or until 20 wait) and go as one
batch, within one time budget for all their tries. (Paged reads through the SDK's models, such
as call records and group members, go alone.) A lesson start's look-ups (the meeting's options, the calendar event, the organizer's
role and school) are one request to Graph instead of four, a class joining is one or two, and
at a 09:00 peak several lessons share a request: the HTTP cost of a request (the SDK's
middleware, the connection pool, the socket) is paid once per batch, not once per question.

The batch goes through msgraph-sdk's request adapter, so it has the same credential, retry
handler, metering and time budget as every other call; its answers are read without the SDK's
model deserialisation. Each answer keeps its own status: one person's 404 or 429 is that
person's, not the batch's, and a throttled one is asked again after its own Retry-After.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable, Sequence

from kiota_abstractions.request_information import RequestInformation
from pydantic import BaseModel, Field, ValidationError

from telemetry import metrics

from .errors import REASONS, GraphUnavailable

MAX_REQUESTS = 20  # Graph's limit per batch
# How long a question waits for others to share its batch. Graph answers in 100 ms or more,
# so a few milliseconds more cost nothing a person notices; they let a lesson start's look-ups
# (some asked after a read of the database) and other lessons' go together.
WINDOW_SECONDS = 0.005
TRANSIENT = {429, 503, 504}  # asked again after Retry-After, inside the time budget
TRIES = 4  # the first, and three more, as the SDK's retry handler does for a request alone


class BatchRequest(BaseModel):
    id: str
    method: str = "GET"
    url: str  # relative to the version root: "/users/{id}?$select=..."
    body: dict | None = None
    headers: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def built(cls, id: str, info: RequestInformation) -> "BatchRequest":
        """A GET that msgraph-sdk's request builders made (its path, query and headers), as
        one request of a batch."""
        info.path_parameters["baseurl"] = ""  # the URL relative to the version root
        headers = {name: ", ".join(sorted(values)) for name, values in info.headers.get_all().items() if name.lower() != "accept"}
        return cls(id=id, method=info.http_method.value, url=info.url, headers=headers)


class BatchAnswer(BaseModel):
    id: str
    status: int
    body: dict = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def retry_after(self) -> float:
        value = next((v for k, v in self.headers.items() if k.lower() == "retry-after"), "1")
        try:
            return min(max(float(value), 0.0), 30.0)
        except ValueError:
            return 1.0

    def unavailable(self, what: str) -> GraphUnavailable:
        reason = REASONS.get(self.status, f"Graph answered HTTP {self.status}")
        detail = (self.body.get("error") or {}).get("message") if isinstance(self.body.get("error"), dict) else None
        return GraphUnavailable(f"{what}: {reason}" + (f" ({str(detail)[:120]})" if detail else ""), self.status)


# Sends one batch's requests (as Graph's wire format) and returns the raw answer; raises
# GraphUnavailable (saying why, not of which question) when Graph did not answer the batch.
PostBatch = Callable[[list[dict]], Awaitable[bytes]]
_Waiting = tuple[BatchRequest, "asyncio.Future[BatchAnswer]"]


class Batcher:
    def __init__(self, post: PostBatch, timeout: float, window: float = WINDOW_SECONDS) -> None:
        self._post = post
        self._timeout = timeout
        self._window = window
        self._waiting: list[_Waiting] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task] = set()
        self._ids = itertools.count()

    async def ask(self, requests: Sequence[BatchRequest], what: str) -> dict[str, BatchAnswer]:
        """Every request answered, by its id. A throttled or briefly unavailable one is asked
        again after its Retry-After, up to three times within the time budget, and its last
        answer stands. Raises GraphUnavailable (said of `what`) when Graph did not answer at all."""
        deadline = asyncio.get_running_loop().time() + self._timeout
        answers: dict[str, BatchAnswer] = {}
        pending = list(requests)
        for attempt in range(TRIES):
            try:
                async with asyncio.timeout_at(deadline):  # the budget holds for every try together
                    got = await self._once(pending)
            except (GraphUnavailable, TimeoutError) as exc:
                if answers:
                    return answers  # a retry that failed: the throttled answers before it stand
                if isinstance(exc, TimeoutError):
                    raise GraphUnavailable(f"{what}: Graph did not answer within {self._timeout:g} s") from exc
                raise exc.about(what) from exc
            answers.update(got)
            retry = [r for r in pending if got[r.id].status in TRANSIENT]
            wait = max((got[r.id].retry_after for r in retry), default=0.0)
            if not retry or attempt == TRIES - 1 or asyncio.get_running_loop().time() + wait > deadline:
                break
            await asyncio.sleep(wait)
            pending = retry
        return answers

    async def _once(self, requests: Sequence[BatchRequest]) -> dict[str, BatchAnswer]:
        loop = asyncio.get_running_loop()
        futures = []
        for request in requests:
            future: asyncio.Future[BatchAnswer] = loop.create_future()
            self._waiting.append((request, future))
            futures.append(future)
            if len(self._waiting) >= MAX_REQUESTS:
                self._flush()
        if self._waiting and self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        got = await asyncio.gather(*futures, return_exceptions=True)
        for answer in got:
            if isinstance(answer, BaseException):
                raise answer
        return {request.id: answer for request, answer in zip(requests, got)}

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiting:
            chunk, self._waiting = self._waiting[:MAX_REQUESTS], self._waiting[MAX_REQUESTS:]
            task = asyncio.get_running_loop().create_task(self._send(chunk))
            self._sending.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._sending.discard)

    async def _send(self, chunk: list[_Waiting]) -> None:
        # Ids of the batch's own: two callers' requests may share an id.
        ids = [str(next(self._ids)) for _ in chunk]
        try:
            answers = _read(await self._post([_wire(n, request) for n, (request, _) in zip(ids, chunk)]), ids)
        except GraphUnavailable as exc:
            _settle(chunk, [], exc)
            return
        except Exception as exc:  # noqa: BLE001 - nobody waits forever
            _settle(chunk, [], GraphUnavailable(f"{type(exc).__name__}: {str(exc)[:160]}"))
            return
        except BaseException:  # cancelled with the loop
            _settle(chunk, [], GraphUnavailable("the Graph request was stopped"))
            raise
        for answer in answers:
            metrics.graph_answer(answer.status)
        _settle(chunk, answers, None)


def _settle(chunk: list[_Waiting], answers: list[BatchAnswer], failed: GraphUnavailable | None) -> None:
    for n, (request, future) in enumerate(chunk):
        if future.done():  # its caller stopped waiting (cancelled)
            continue
        if failed is not None:
            future.set_exception(GraphUnavailable(failed.reason, failed.status))  # each caller its own
        else:
            future.set_result(answers[n].model_copy(update={"id": request.id}))


def _read(raw: bytes | None, ids: list[str]) -> list[BatchAnswer]:
    """The answers in the order of `ids`. One answer that cannot be read, or is left out, is that
    request's failure (status 502), not its neighbours'; GraphUnavailable when the batch's own
    answer cannot be read."""
    try:
        listed = json.loads(raw or b"{}").get("responses")
    except (ValueError, TypeError, AttributeError) as exc:
        raise GraphUnavailable(f"Graph's batch answer could not be read ({type(exc).__name__})") from exc
    found: dict[str, BatchAnswer] = {}
    for item in listed if isinstance(listed, list) else []:
        if not isinstance(item, dict) or str(item.get("id")) not in ids:
            continue
        try:
            found[str(item["id"])] = BatchAnswer.model_validate(item | {"id": str(item["id"])})
        except ValidationError:
            found[str(item["id"])] = _unreadable(str(item["id"]), "could not be read")
    return [found.get(i) or _unreadable(i, "was left out of Graph's batch answer") for i in ids]


def _unreadable(id: str, why: str) -> BatchAnswer:
    return BatchAnswer(id=id, status=502, body={"error": {"message": f"its answer {why}"}})


def _wire(id: str, request: BatchRequest) -> dict:
    item = {"id": id, "method": request.method, "url": request.url}
    headers = dict(request.headers)
    if request.body is not None:
        item["body"] = request.body
        headers["Content-Type"] = "application/json"
    if headers:
        item["headers"] = headers
    return item
