"""Which meetings count as lessons is the policy's ([enrolment] lessons): class teams get
Chaperone at team scope for their channel meetings; an invitee the directory does not know (a
class group's address, someone outside the school) is no reason to leave a meeting unwatched."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.enrolment import EnrolmentStatus
from standins.teams import Meeting, Person

from .helpers import PUPIL_A, T0, TA, TEACHER, enrolling_app, minutes, policy_with, staff_and_pupils

pytestmark = pytest.mark.e2e

CLASS_TEAM = "4b1a7b00-0000-4000-8000-0000000007b0"
CHANNEL_LESSON = Meeting("19:channel-7b-maths@thread.tacv2", "7B Maths (channel)", TEACHER, meeting_type="ChannelMeeting")
PARENTS_EVENING = Meeting("19:meeting_parents7b@thread.v2", "7B parents' evening", TEACHER)
CLASS_GROUP = Person("Class 7B", None)  # a group's address on the invitation, not a person in the directory


def _calendar(graph, meeting, attendees=()):
    start = T0 + minutes(30)
    graph.add_meeting(TEACHER.aad_object_id, meeting.online_meeting(start, start + minutes(50)))
    graph.calendars.setdefault(TEACHER.aad_object_id, []).append(meeting.calendar_event(start, start + minutes(50), attendees=attendees))


async def test_class_teams_get_chaperone_at_team_scope_for_their_channel_meetings(tmp_path, database_url, connector, graph):
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A,))
    _calendar(graph, CHANNEL_LESSON)
    policy = policy_with(tmp_path, **{'lessons = "pupils-invited"': 'lessons = "class-teams"',
                                      "class_team_ids = []": f'class_team_ids = ["{CLASS_TEAM}"]'})
    async with enrolling_app(database_url, connector, graph, CHAPERONE_POLICY_FILE=policy) as app:
        [enrolment] = (await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))).enrolments
        assert enrolment.status is EnrolmentStatus.enrolled and "through the class teams" in enrolment.reason
        assert ("teams", CLASS_TEAM) in graph.teamwork.installed
        assert not [key for key in graph.teamwork.installed if key[0] == "chats"]  # a channel has no meeting chat to install in


async def test_a_channel_meeting_with_no_class_team_named_is_recorded_as_not_enrolled(tmp_path, database_url, connector, graph):
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A,))
    _calendar(graph, CHANNEL_LESSON)
    policy = policy_with(tmp_path, **{'lessons = "pupils-invited"': 'lessons = "class-teams"'})
    async with enrolling_app(database_url, connector, graph, CHAPERONE_POLICY_FILE=policy) as app:
        [enrolment] = (await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))).enrolments
        assert enrolment.status is EnrolmentStatus.failed and "class_team_ids names none" in enrolment.reason


async def test_an_invitee_the_directory_does_not_know_is_enrolled_to_be_safe(database_url, connector, graph):
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A,))
    _calendar(graph, PARENTS_EVENING, attendees=(TA, CLASS_GROUP))
    async with enrolling_app(database_url, connector, graph) as app:
        [enrolment] = (await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))).enrolments
        assert enrolment.status is EnrolmentStatus.enrolled and "not in the school's directory" in enrolment.reason
        assert ("chats", PARENTS_EVENING.thread_id) in graph.teamwork.installed


async def test_all_staff_meetings_enrols_a_staff_only_meeting(tmp_path, database_url, connector, graph):
    staff_and_pupils(graph, staff=(TEACHER, TA), pupils=(PUPIL_A,))
    _calendar(graph, PARENTS_EVENING, attendees=(TA,))
    policy = policy_with(tmp_path, **{'lessons = "pupils-invited"': 'lessons = "all-staff-meetings"'})
    async with enrolling_app(database_url, connector, graph, CHAPERONE_POLICY_FILE=policy) as app:
        [enrolment] = (await app.services.enrolment.sweep(now=T0 - timedelta(hours=1))).enrolments
        assert enrolment.status is EnrolmentStatus.enrolled
