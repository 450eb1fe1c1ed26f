"""The benchmark's arithmetic tells the truth: what it calls lost, recovered or slow (no server
is started here; the figures themselves are measured by `app.py bench`, never asserted)."""

from __future__ import annotations

from demo.bench import Load, Options, Phase, recovery, stored_line, windows
from demo.bench_workload import SEATS, Kind, School, at_rate, morning, stream


def load_of(latencies_by_second: list[list[float]], status: int = 200) -> Load:
    load = Load(start=100.0)
    for second, latencies in enumerate(latencies_by_second):
        for latency in latencies:
            load.status.append(status)
            load.latency.append(latency)
            load.due.append(100.0 + second + 0.5)
            load.kinds.append(Kind.join.value)
    return load


def test_recovery_is_the_first_second_after_the_burst_from_which_p99_stays_under_50_ms():
    opts = Options(overload_seconds=2, tail_seconds=4)
    slow, fast = [0.9] * 10, [0.01] * 10
    assert recovery(load_of([slow, slow, slow, fast, fast, fast]), opts).startswith(
        "p99 under 50 ms for good from 1 s after the burst ended (first second under 50 ms: 1 s after)")
    # Fast for a second, then slow again: not recovered until it stays fast.
    assert recovery(load_of([slow, slow, fast, slow, fast, fast]), opts) == (
        "p99 under 50 ms for good from 2 s after the burst ended (first second under 50 ms: 0 s after)")
    assert "NOT back under 50 ms" in recovery(load_of([slow] * 6), opts)


def test_per_second_windows_count_timeouts_at_their_latency():
    load = load_of([[0.01] * 99 + [15.0]])
    [(second, requests, p99_ms)] = windows(load, 1)
    assert (second, requests) == (0, 100)
    assert p99_ms == 15000.0


def test_an_acknowledged_event_missing_from_the_table_is_reported_lost():
    load = load_of([[0.01] * 10])
    load.kinds[0] = Kind.start.value  # a meetingStart makes no participant_events row
    assert "1 acknowledged but NOT stored" in stored_line(Phase("rate", load, stored=8, table="participant_events"))
    assert "every acknowledged event stored" in stored_line(Phase("rate", load, stored=9, table="participant_events"))
    # The event log keeps one row per meeting activity, starts included.
    assert "1 acknowledged but NOT stored" in stored_line(Phase("rate", load, stored=9, table="inbound_events"))


def test_the_morning_is_whole_lessons_of_distinct_people_in_bursts_over_its_span():
    items = morning(0, 40, span=120.0)
    assert len(items) == 40 * (SEATS + 1)
    assert [i.at for i in items] == sorted(i.at for i in items)
    assert max(i.at for i in items) <= 120.0
    school = School("0123abcd")
    people = {school.person(i.lesson * SEATS + i.seat).aad_object_id for i in items if i.kind is Kind.join}
    assert len(people) == 40 * SEATS


def test_a_fixed_rate_is_due_evenly():
    items = at_rate(stream(0, 625), 625.0)
    assert items[0].at == 0.0 and abs(items[-1].at - 624 / 625) < 1e-9
