"""The benchmark's yardstick: a bare aiohttp server whose /api/messages reads the body,
parses the JSON and answers 200 (`python -m demo.bench_bare PORT`). What Chaperone does
beyond that (authentication, storing, judging) is what the ratio between the two shows."""

from __future__ import annotations

import json
import sys

from aiohttp import web


async def messages(request: web.Request) -> web.Response:
    json.loads(await request.read())
    return web.Response(status=200)


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_post("/api/messages", messages)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
