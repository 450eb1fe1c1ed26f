"""The school data registers as the rules read them (store/school_data.py), on each database."""

from __future__ import annotations

from datetime import time

from domain.school import TimetableEntry
from store.db import create_engine, migrate
from store.school_data import SchoolData


def entry(organizer: str, class_name: str) -> TimetableEntry:
    return TimetableEntry(organizer=organizer, class_name=class_name, subject="Maths", weekday=0, starts=time(9), ends=time(9, 50))


async def test_an_organizers_timetable_and_whether_the_school_has_one_come_from_one_query(any_database_url):
    engine = create_engine(any_database_url)
    await migrate(engine)
    data = SchoolData(engine)
    try:
        # No timetable imported: nothing, and not loaded (the rule says it cannot tell).
        assert await data.timetable_for({"okafor@school.org"}) == ([], False)
        assert await data.timetable_for(set()) == ([], False)
        await data.replace_timetable([(entry("okafor@school.org", "7B"), "t.csv:2"), (entry("hale@school.org", "8C"), "t.csv:3")],
                                     "test", "t.csv")
        # Loaded: the organizer's own entries only, whoever else is on it.
        entries, loaded = await data.timetable_for({"okafor@school.org", "aad-okafor"})
        assert loaded and [e.class_name for e in entries] == ["7B"]
        assert await data.timetable_for({"nobody@school.org"}) == ([], True)
        assert await data.timetable_for(set()) == ([], True)
        # Another school's timetable is not this one's.
        assert await data.timetable_for({"okafor@school.org"}, school_id="brook") == ([], False)
    finally:
        await engine.dispose()
