"""Every Microsoft Graph application permission Chaperone's code uses, and why.

The deployment guide and the README list exactly these (a test keeps them in step).
"""

GRAPH_APPLICATION_PERMISSIONS: dict[str, str] = {
    "OnlineMeetings.Read.All": "read each lesson's meeting settings (graph/meetings.py)",
    "OnlineMeetings.ReadWrite.All": "only with lobby remediation on: switch the lobby on (graph/meetings.py)",
    "OnlineMeetingArtifact.Read.All": "read attendance reports after a lesson (graph/attendance.py)",
    "OnlineMeetingRecording.Read.All": "confirm a required recording was made and kept in the school's tenant (graph/recordings.py; rule recording-kept)",
    "AuditLog.Read.All": "only with the managed-device rule on: the organizer's device from the sign-in logs (graph/signins.py)",
    "Chat.ReadBasic.All": "only with the staff-pupil-chats report on: staff's one-to-one chats, who and when, never content (graph/chats.py)",
    "Calendars.Read": "find the organizer's calendar event for a lesson, its attendees and invitation (graph/calendar.py; rules timetabled, invited-only, invitation-sent); "
    "sweep the staff's calendars for the coming day's online meetings, and subscribe to their changes (graph/enrolment.py, graph/subscriptions.py)",
    "AppCatalog.Read.All": "find Chaperone's own id in the organisation's app catalog, to install itself (graph/enrolment.py)",
    "TeamsAppInstallation.ReadWriteSelfForChat.All": "install Chaperone itself (no other app) in each lesson's meeting chat, so Teams sends it the meeting's events (graph/enrolment.py)",
    "TeamsAppInstallation.ReadWriteSelfForTeam.All": "install Chaperone itself in the class teams named in [enrolment] class_team_ids, for channel meetings (graph/enrolment.py)",
    "TeamsAppInstallation.ReadWriteSelfForUser.All": "install Chaperone itself for staff, SLT and the DSL in personal scope, so its one-to-one messages reach them (graph/enrolment.py)",
    "CallRecords.Read.All": "after each call, who organised it, who took part and when: the sessions with pupils Chaperone did not follow (graph/call_records.py)",
    "EduRoster.Read.All": "staff or pupil from the education roster (graph/people.py); in a trust, the school of a lesson's class team (graph/schools.py)",
    "GroupMember.Read.All": "staff or pupil from security groups; the staff list for AUP reminders (graph/people.py); in a trust, which schools' staff groups a lesson's organizer is in (graph/schools.py)",
    "User.Read.All": "guest accounts and sign-in names (graph/people.py)",
}

# Every Graph call the code makes, and the permission that allows it. The Graph stand-in serves
# exactly these routes (tests/test_manifest.py checks), so a new call cannot pass the tests
# without being listed here, and so in the deployment guide.
GRAPH_CALLS: dict[str, str] = {
    "GET /users/{id}/onlineMeetings": "OnlineMeetings.Read.All",  # find by join URL
    "GET /users/{id}/onlineMeetings/{id}": "OnlineMeetings.Read.All",
    "PATCH /users/{id}/onlineMeetings/{id}": "OnlineMeetings.ReadWrite.All",
    "GET /users/{id}/onlineMeetings/{id}/attendanceReports": "OnlineMeetingArtifact.Read.All",
    "GET /users/{id}/onlineMeetings/{id}/recordings": "OnlineMeetingRecording.Read.All",
    "GET /users/{id}/calendarView": "Calendars.Read",
    "GET /appCatalogs/teamsApps": "AppCatalog.Read.All",
    "POST /chats/{id}/installedApps": "TeamsAppInstallation.ReadWriteSelfForChat.All",
    "POST /teams/{id}/installedApps": "TeamsAppInstallation.ReadWriteSelfForTeam.All",
    "POST /users/{id}/teamwork/installedApps": "TeamsAppInstallation.ReadWriteSelfForUser.All",
    # A subscription needs the permission of its resource: Calendars.Read for staff calendars'
    # events, CallRecords.Read.All for communications/callRecords (graph/subscriptions.py).
    "POST /subscriptions": "Calendars.Read",
    "PATCH /subscriptions/{id}": "Calendars.Read",
    "DELETE /subscriptions/{id}": "Calendars.Read",
    "GET /communications/callRecords": "CallRecords.Read.All",  # the catch-up, for lost notifications
    "GET /communications/callRecords/{id}": "CallRecords.Read.All",
    "GET /communications/callRecords/{id}/organizer_v2": "CallRecords.Read.All",
    "GET /communications/callRecords/{id}/participants_v2": "CallRecords.Read.All",
    "GET /auditLogs/signIns": "AuditLog.Read.All",
    "GET /users/{id}/chats": "Chat.ReadBasic.All",
    "GET /education/users/{id}": "EduRoster.Read.All",
    "GET /education/classes/{id}/schools": "EduRoster.Read.All",  # a trust: which school a class team is
    "POST /users/{id}/checkMemberGroups": "GroupMember.Read.All",
    "GET /groups/{id}/transitiveMembers": "GroupMember.Read.All",
    "GET /users/{id}": "User.Read.All",
}

# JSON batching (graph/batch.py) needs no permission of its own: each request inside it is one of
# the calls above, and needs that call's permission.
BATCH_CALL = "POST /$batch"

# Resource-specific consent in the Teams app manifest (manifest/manifest.template.json).
RESOURCE_SPECIFIC_PERMISSIONS: dict[str, str] = {
    "OnlineMeeting.ReadBasic.Chat": "meeting start and end events for scheduled meetings",
    "ChannelMeeting.ReadBasic.Group": "meeting start and end events for channel meetings",
    "OnlineMeetingParticipant.Read.Chat": "participant join and leave events",
    "OnlineMeetingNotification.Send.Chat": "the organizer's targeted in-meeting notification",
}
