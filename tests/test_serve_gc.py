"""`serve` freezes start-up's objects once the application has started (issue 14: full
collections of the HTTP front were pauses of up to 180 ms), after collecting start-up's garbage."""

from __future__ import annotations

import gc
import weakref

from aiohttp import web

from cli import serving_app


class _Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


async def test_start_up_objects_are_frozen_and_its_garbage_freed_first():
    app = serving_app(web.Application())
    garbage = _Node()
    gone = weakref.ref(garbage)
    del garbage
    kept = _Node()
    runner = web.AppRunner(app)
    frozen_before = gc.get_freeze_count()
    try:
        await runner.setup()  # the application's start-up, as run_app does it
        assert gone() is None, "start-up's garbage must be collected before it is frozen"
        assert gc.get_freeze_count() > frozen_before
        assert not any(obj is kept for obj in gc.get_objects())  # out of the collector's sight
    finally:
        await runner.cleanup()
        gc.unfreeze()
