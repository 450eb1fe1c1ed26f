"""The school timetable, from the MIS: CSV or iCalendar (.ics), as schools export it.

CSV columns: organizer, class, subject, day, start, end[, valid_from, valid_to], under the
names MIS exports use too (`Organiser`, `Teacher`, `Staff Email`, `Group`, `Day of Week`,
`Start Time`, ...: HEADER_NAMES)
- organizer: the teacher's email (UPN) or Entra object id
- day: a weekday (`Mon`, `Monday`, `TUE`: weekly, between valid_from and valid_to) or a date
  (YYYY-MM-DD or the UK's DD/MM/YYYY: one lesson)
- start, end: HH:MM (or H.MM), school time

iCalendar: one VEVENT per lesson; ORGANIZER is the teacher (mailto:). Its RRULE is expanded by
python-dateutil: a plain weekly rule is one weekly entry until its UNTIL date; any other
(fortnightly, several days, COUNT, EXDATE) becomes the dated lessons it names, up to a year
ahead when it has no end. Times are converted to the school's time zone.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from domain.school import TimetableEntry

from .common import ImportProblems, csv_rows, optional_date, parse_time

WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
CSV_COLUMNS = {"organizer", "class", "subject", "day", "start", "end"}

# What MIS exports (SIMS, Arbor, Bromcom, iSAMS, Timetabler) call each column, lower case, spaces,
# hyphens and underscores ignored.
HEADER_NAMES = {
    "organizer": {"organizer", "organiser", "teacher", "teacheremail", "teacherupn", "staff", "staffemail", "staffcode",
                  "email", "upn", "owner"},
    "class": {"class", "classname", "group", "teachinggroup", "classcode", "form", "set"},
    "subject": {"subject", "subjectname", "course", "lesson"},
    "day": {"day", "weekday", "dayofweek", "dayname", "date"},
    "start": {"start", "starttime", "starts", "from", "periodstart", "begin"},
    "end": {"end", "endtime", "ends", "to", "until", "periodend", "finish"},
    "valid_from": {"validfrom", "startdate", "effectivefrom", "termstart"},
    "valid_to": {"validto", "enddate", "effectiveto", "termend"},
}
_BY_NAME = {alias: column for column, aliases in HEADER_NAMES.items() for alias in aliases}
# An expanded recurrence with no end stops a year on: the next year's timetable replaces it.
RECURRENCE_HORIZON = timedelta(days=366)
MAX_OCCURRENCES = 1000


def parse_timetable(text: str, source: str, zone: ZoneInfo) -> list[tuple[TimetableEntry, str]]:
    """Entries with where each came from; raises ImportProblems listing every bad row."""
    if text.lstrip().startswith("BEGIN:VCALENDAR"):
        return _from_ics(text, source, zone)
    return _from_csv(text, source)


def weekday_of(value: str) -> int | None:
    """0-6 for `Mon`, `Monday`, `TUE`, `Thurs`...; None for anything else."""
    word = value.strip().lower().rstrip(".")
    if len(word) < 2:
        return None
    found = [i for i, name in enumerate(WEEKDAYS) if name.startswith(word)]
    return found[0] if len(found) == 1 else None


def _day_date(value: str) -> date:
    """A date as YYYY-MM-DD or as the UK writes it, DD/MM/YYYY."""
    uk = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value.strip())
    try:
        return date(int(uk[3]), int(uk[2]), int(uk[1])) if uk else date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"day {value!r} is neither a weekday (Mon, Monday) nor a date (YYYY-MM-DD or DD/MM/YYYY)") from None


def _canonical_header(text: str) -> str:
    """The file with its header row renamed to Chaperone's column names (rows untouched, so
    line numbers stay the file's own)."""
    text = text.lstrip("\ufeff")
    first, newline, rest = text.partition("\n")
    names = next(csv.reader([first.rstrip("\r")]), [])
    renamed = [_BY_NAME.get(re.sub(r"[\s_\-]", "", n.strip().lower()), n.strip().lower()) for n in names]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(renamed)
    return out.getvalue() + newline + rest


def _from_csv(text: str, source: str) -> list[tuple[TimetableEntry, str]]:
    rows, problems = csv_rows(_canonical_header(text), CSV_COLUMNS)
    entries = []
    for line, row in rows:
        try:
            if not row["organizer"]:
                raise ValueError("organizer is empty")
            weekday = weekday_of(row["day"])
            on_date = None if weekday is not None else _day_date(row["day"])
            starts, ends = parse_time(row["start"].replace(".", ":"), "start"), parse_time(row["end"].replace(".", ":"), "end")
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
            entries += [(entry, f"{source}:{line}") for entry in _entries(event, zone)]
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


def _entries(event, zone: ZoneInfo) -> list[TimetableEntry]:
    if event.get("DTSTART") is None or event.get("DTEND") is None:
        raise ValueError("DTSTART and DTEND are required")
    start = _local(event.decoded("DTSTART"), zone, "DTSTART")
    end = _local(event.decoded("DTEND"), zone, "DTEND")
    organizer = str(event.get("ORGANIZER", "")).lower().removeprefix("mailto:")
    if not organizer:
        raise ValueError("ORGANIZER is required (the teacher's email)")
    rule = event.get("RRULE")
    if not rule:
        return [_entry(event, organizer, start, end, None, start.date(), None)]
    until = (rule.get("UNTIL") or [None])[0]
    if _plain_weekly(rule, start) and not event.get("EXDATE"):
        valid_to = until.astimezone(zone).date() if isinstance(until, datetime) else until
        return [_entry(event, organizer, start, end, start.weekday(), None, valid_to)]
    return [_entry(event, organizer, start, end, None, when.date(), None) for when in _occurrences(event, rule, start, zone)]


def _plain_weekly(rule, start: datetime) -> bool:
    """Every week on the start's weekday, until a date or for ever: one weekly entry says it."""
    parts = {k.upper() for k in rule}
    by_day = [str(d).upper()[-2:] for d in rule.get("BYDAY", [])]
    return ([f.upper() for f in rule.get("FREQ", [])] == ["WEEKLY"] and parts <= {"FREQ", "UNTIL", "BYDAY", "INTERVAL", "WKST"}
            and rule.get("INTERVAL", [1])[0] == 1 and by_day in ([], [WEEKDAYS[start.weekday()][:2].upper()]))


def _occurrences(event, rule, start: datetime, zone: ZoneInfo) -> list[datetime]:
    """The lessons an RRULE (less its EXDATEs) names, expanded by python-dateutil."""
    from dateutil.rrule import rrulestr

    try:
        recurrence = rrulestr(rule.to_ical().decode(), dtstart=start)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"RRULE cannot be read: {exc}") from exc
    excluded = set()
    for exdates in (event.get("EXDATE") if isinstance(event.get("EXDATE"), list) else [event.get("EXDATE")]):
        for value in getattr(exdates, "dts", []) if exdates is not None else []:
            moment = value.dt
            excluded.add(moment.astimezone(zone).date() if isinstance(moment, datetime) else moment)
    found = []
    for when in recurrence.xafter(start, count=MAX_OCCURRENCES + 1, inc=True):
        if when > start + RECURRENCE_HORIZON and not rule.get("UNTIL") and not rule.get("COUNT"):
            break
        found.append(when)
    if len(found) > MAX_OCCURRENCES:
        raise ValueError(f"RRULE names more than {MAX_OCCURRENCES} lessons")
    return [w for w in found if w.date() not in excluded]


def _entry(event, organizer: str, start: datetime, end: datetime, weekday: int | None, on_date: date | None,
           valid_to: date | None) -> TimetableEntry:
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


class TimetableChanges:
    """What an import does to the timetable in place: entries added, removed, kept."""

    def __init__(self, current: list[TimetableEntry], incoming: list[TimetableEntry]) -> None:
        before, after = set(current), set(incoming)
        self.replaced = len(current)
        self.added = sorted(after - before, key=_order)
        self.removed = sorted(before - after, key=_order)
        self.unchanged = len(after & before)

    def summary(self) -> str:
        return (f"{len(self.added)} added, {len(self.removed)} removed, {self.unchanged} unchanged "
                f"(of {self.replaced} entries in place)")


def _order(entry: TimetableEntry) -> tuple:
    return (entry.organizer, entry.on_date or date.min, entry.weekday if entry.weekday is not None else -1, entry.starts)


def describe(entry: TimetableEntry) -> str:
    when = entry.on_date.isoformat() if entry.on_date else f"every {WEEKDAYS[entry.weekday].title()}"
    return f"{entry.organizer} {when} {entry.starts:%H:%M}-{entry.ends:%H:%M} {entry.class_label}"
