"""HTTP latency for /metrics: an aiohttp middleware, labelled by route (not by path, which
would carry ids)."""

from __future__ import annotations

import time

from aiohttp import web

from . import metrics


@web.middleware
async def timed(request: web.Request, handler):
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.HTTP_SECONDS.labels(route, request.method, str(status)).observe(time.perf_counter() - started)
