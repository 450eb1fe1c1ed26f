"""Issue 16's pure parts: reading Graph's notification collections, the thread inside a join
URL, the coverage card, when the daily summary runs."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest

from cards.coverage_summary import coverage_card
from config.policy import load_policy
from domain.enrolment import CoverageRow, LifecycleEvent
from service.coverage import next_run
from service.subscriptions import NotificationError, parse_notifications
from store.enrolment import thread_of

from .helpers import POLICY, all_text


def test_a_change_notification_and_a_lifecycle_notification_are_read():
    body = {"value": [
        {"subscriptionId": "s1", "clientState": "secret", "changeType": "created", "resource": "communications/callRecords/abc",
         "resourceData": {"@odata.type": "#Microsoft.Graph.callrecord", "id": "abc"}, "tenantId": "t"},
        {"subscriptionId": "s2", "clientState": "secret", "lifecycleEvent": "reauthorizationRequired", "resource": "users/u/events"},
    ]}
    change, lifecycle = parse_notifications(json.dumps(body).encode())
    assert (change.subscription_id, change.resource_id, change.lifecycle_event) == ("s1", "abc", None)
    assert lifecycle.lifecycle_event is LifecycleEvent.reauthorization_required and lifecycle.resource_id is None


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"value": {}}', b'{"value": [{}]}', b'{"value": [{"subscriptionId": ""}]}',
                                  b'{"value": [{"subscriptionId": "s", "lifecycleEvent": "explode"}]}',
                                  json.dumps({"value": [{"subscriptionId": "s"}] * 1001}).encode()])
def test_what_is_not_a_notification_collection_is_refused(body):
    with pytest.raises(NotificationError):
        parse_notifications(body)


def test_the_meeting_chat_thread_is_read_from_a_join_url_whatever_its_encoding():
    assert thread_of("https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d") == "19:meeting_abc@thread.v2"
    assert thread_of("https://teams.microsoft.com/l/meetup-join/19:meeting_abc@thread.v2/0") == "19:meeting_abc@thread.v2"
    assert thread_of("https://teams.microsoft.com/meet/123456?p=x") is None and thread_of(None) is None


def test_the_coverage_card_names_each_unmonitored_session():
    policy = load_policy(POLICY)
    rows = [CoverageRow(day="2026-11-23", teacher="Ms Amara Okafor", sessions_with_pupils=3, followed_live=2, seen_afterwards=1,
                        could_not_enrol=1, reasons=("Year 8 Science: Chaperone could not be installed",))]
    start = datetime(2026, 11, 23, 15, 40, tzinfo=timezone.utc)
    words = all_text(coverage_card(policy, date(2026, 11, 23), rows, [(7, "Direct call (not followed live)", "Ms Amara Okafor", start)]))
    assert "3 session(s) with pupils: 2 followed live, 1 seen only afterwards (unmonitored)." in words
    assert "Direct call (not followed live), organised by Ms Amara Okafor, at 15:40 (lesson #7)" in words
    assert "Year 8 Science: Chaperone could not be installed" in words


def test_the_daily_summary_runs_at_the_policys_time_in_school_time():
    policy = load_policy(POLICY)  # 17:30 in Europe/London
    assert next_run(policy, datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)) == 30 * 60
    assert next_run(policy, datetime(2026, 7, 1, 16, 0, tzinfo=timezone.utc)) == 30 * 60  # British Summer Time
    assert next_run(policy, datetime(2026, 11, 23, 18, 0, tzinfo=timezone.utc)) == (23 * 60 + 30) * 60
