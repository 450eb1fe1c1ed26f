"""The school timetable, from the MIS: CSV or iCalendar (.ics).

CSV columns: organizer, class, subject, day, start, end[, valid_from, valid_to]
- organizer: the teacher's email (UPN) or Entra object id
- day: a weekday name (weekly, between valid_from and valid_to) or a date (one lesson)
- start, end: HH:MM, school time

iCalendar: one VEVENT per lesson; ORGANIZER is the teacher (mailto:); a weekly RRULE makes
it a weekly entry until its UNTIL date. Times are converted to the school's time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from domain.school import TimetableEntry

from .common import ImportProblems, csv_rows, optional_date, parse_date, parse_time

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CSV_COLUMNS = {"organizer", "class", "subject", "day", "start", "end"}


def parse_timetable(text: str, source: str, zone: ZoneInfo) -> list[tuple[TimetableEntry, str]]:
    """Entries with where each came from; raises ImportProblems listing every bad row."""
    if text.lstrip().startswith("BEGIN:VCALENDAR"):
        return _from_ics(text, source, zone)
    return _from_csv(text, source)


def _from_csv(text: str, source: str) -> list[tuple[TimetableEntry, str]]:
    rows, problems = csv_rows(text, CSV_COLUMNS)
    entries = []
    for line, row in rows:
        try:
            if not row["organizer"]:
                raise ValueError("organizer is empty")
            day = row["day"].lower()
            weekday = WEEKDAYS.index(day) if day in WEEKDAYS else None
            try:
                on_date = None if weekday is not None else parse_date(row["day"], "day")
            except ValueError:
                raise ValueError(f"day {row['day']!r} is neither a weekday name nor a date (YYYY-MM-DD)") from None
            starts, ends = parse_time(row["start"], "start"), parse_time(row["end"], "end")
            if ends <= starts:
                raise ValueError(f"end {row['end']} is not after start {row['start']}")
            entry = TimetableEntry(
                organizer=row["organizer"].lower(),
                class_name=row["class"] or None,
                subject=row["subject"] or None,
                weekday=weekday,
                on_date=on_date,
                starts=starts,
                ends=ends,
                valid_from=optional_date(row.get("valid_from", ""), "valid_from"),
                valid_to=optional_date(row.get("valid_to", ""), "valid_to"),
            )
            entries.append((entry, f"{source}:{line}"))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise ImportProblems(source, problems)
    return entries


def _from_ics(text: str, source: str, zone: ZoneInfo) -> list[tuple[TimetableEntry, str]]:
    from icalendar import Calendar

    try:
        calendar = Calendar.from_ical(text)
    except ValueError as exc:
        raise ImportProblems(source, [f"not a valid iCalendar file: {exc}"]) from exc
    line_of = _vevent_lines(text)
    entries, problems = [], []
    for index, event in enumerate(calendar.walk("VEVENT")):
        line = line_of[index] if index < len(line_of) else 0
        try:
            entries.append((_entry(event, zone), f"{source}:{line}"))
        except ValueError as exc:
            problems.append(f"line {line}: {exc}")
    if problems:
        raise ImportProblems(source, problems)
    return entries


def _vevent_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "BEGIN:VEVENT"]


def _local(value: object, zone: ZoneInfo, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{what} must be a date and time, not an all-day date")
    return value.astimezone(zone) if value.tzinfo else value.replace(tzinfo=zone)


def _entry(event, zone: ZoneInfo) -> TimetableEntry:
    if event.get("DTSTART") is None or event.get("DTEND") is None:
        raise ValueError("DTSTART and DTEND are required")
    start = _local(event.decoded("DTSTART"), zone, "DTSTART")
    end = _local(event.decoded("DTEND"), zone, "DTEND")
    organizer = str(event.get("ORGANIZER", "")).lower().removeprefix("mailto:")
    if not organizer:
        raise ValueError("ORGANIZER is required (the teacher's email)")
    weekday, on_date, valid_to = None, start.date(), None
    rule = event.get("RRULE")
    if rule:
        if [f.upper() for f in rule.get("FREQ", [])] != ["WEEKLY"] or rule.get("BYDAY") and len(rule.get("BYDAY")) > 1:
            raise ValueError("only simple weekly recurrence (RRULE:FREQ=WEEKLY) is supported")
        weekday, on_date = start.weekday(), None
        until = rule.get("UNTIL")
        if until:
            until = until[0]
            valid_to = until.astimezone(zone).date() if isinstance(until, datetime) else until
    return TimetableEntry(
        organizer=organizer,
        class_name=str(event.get("LOCATION", "")) or None,
        subject=str(event.get("SUMMARY", "")) or None,
        weekday=weekday,
        on_date=on_date,
        starts=start.time().replace(tzinfo=None),
        ends=end.time().replace(tzinfo=None),
        valid_from=start.date() if weekday is not None else None,
        valid_to=valid_to if isinstance(valid_to, date) else None,
    )
