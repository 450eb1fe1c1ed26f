"""Graph JSON batching (`POST /$batch`, up to 20 requests in one), read as plain JSON.

Used where many small questions are asked at once (thirty pupils joining in the same minute).
The request goes through msgraph-sdk's request adapter, so it has the same credential, retry
handler, metering and time budget as every other call; only the answer is read without the
SDK's model deserialisation, which costs milliseconds of CPU per object and is the hot path
at a trust's 09:00 peak. Each answer keeps its own status: one person's 404 or 429 is that
person's, not the batch's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation
from pydantic import BaseModel, Field

from .client import GRAPH_ERRORS, REASONS, GraphClient, GraphUnavailable

MAX_REQUESTS = 20  # Graph's limit per batch


class BatchRequest(BaseModel):
    id: str
    method: str = "GET"
    url: str  # relative to the version root: "/users/{id}?$select=..."
    body: dict | None = None


class BatchAnswer(BaseModel):
    id: str
    status: int
    body: dict = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def unavailable(self, what: str) -> GraphUnavailable:
        reason = REASONS.get(self.status, f"Graph answered HTTP {self.status}")
        detail = (self.body.get("error") or {}).get("message") if isinstance(self.body.get("error"), dict) else None
        return GraphUnavailable(f"{what}: {reason}" + (f" ({str(detail)[:120]})" if detail else ""), self.status)


async def batch(graph: GraphClient, requests: Sequence[BatchRequest], what: str) -> dict[str, BatchAnswer]:
    """Every request answered, by id, in as few round trips as Graph allows (20 a batch)."""
    answers: dict[str, BatchAnswer] = {}
    for start in range(0, len(requests), MAX_REQUESTS):
        chunk = requests[start : start + MAX_REQUESTS]
        raw = await graph.call(what, lambda sdk, chunk=chunk: _post(sdk, chunk))
        try:
            listed = json.loads(raw or b"{}").get("responses") or []
            found = [BatchAnswer.model_validate(item) for item in listed]
        except (ValueError, TypeError) as exc:
            raise GraphUnavailable(f"{what}: Graph's batch answer could not be read ({type(exc).__name__})") from exc
        answers.update({answer.id: answer for answer in found})
        missing = [r.id for r in chunk if r.id not in answers]
        if missing:
            raise GraphUnavailable(f"{what}: Graph's batch answer left out {len(missing)} of its requests")
    return answers


async def _post(sdk, chunk: Sequence[BatchRequest]) -> bytes:
    adapter = sdk.request_adapter
    info = RequestInformation(Method.POST, "{+baseurl}/$batch")
    info.path_parameters["baseurl"] = adapter.base_url
    payload = {"requests": [_wire(r) for r in chunk]}
    info.set_stream_content(json.dumps(payload).encode("utf-8"), "application/json")
    info.headers.try_add("Accept", "application/json")
    return await adapter.send_primitive_async(info, "bytes", GRAPH_ERRORS)


def _wire(request: BatchRequest) -> dict:
    item = {"id": request.id, "method": request.method, "url": request.url}
    if request.body is not None:
        item["body"] = request.body
        item["headers"] = {"Content-Type": "application/json"}
    return item
