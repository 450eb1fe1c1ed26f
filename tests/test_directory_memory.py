"""Who-is-staff answers kept in memory expire with the shared (database) cache's own expiry: an
answer read from the database a minute before it expires is not kept in memory for a whole TTL."""

from __future__ import annotations

from domain.lesson import DirectoryEntry, PersonClass
from graph.people import PeopleDirectory
from store.db import create_engine, migrate
from store.directory_cache import DirectoryCache


class CountedCache(DirectoryCache):
    reads = 0

    async def get_many(self, people):
        self.reads += 1
        return await super().get_many(people)


async def test_memory_keeps_an_answer_only_as_long_as_the_database_has_left(sqlite_url):
    engine = create_engine(sqlite_url)
    await migrate(engine)
    now = [1000.0]
    try:
        shared = CountedCache(engine)
        await shared.put_many({"aad-pupil": DirectoryEntry(classification=PersonClass.pupil)}, ttl_seconds=30)
        # No Graph: every answer here comes from the database or from memory.
        people = PeopleDirectory(None, ttl_seconds=3600, shared=shared, clock=lambda: now[0])
        assert (await people.classify("aad-pupil")).classification is PersonClass.pupil and shared.reads == 1
        now[0] += 20
        await people.classify("aad-pupil")
        assert shared.reads == 1  # from memory
        now[0] += 15  # past the database entry's 30 s, well within the hour's TTL
        await people.classify("aad-pupil")
        assert shared.reads == 2  # asked the database again
    finally:
        await engine.dispose()
