"""Which school a lesson belongs to, in a trust that runs one Chaperone for many schools.

The answer is kept with the lesson, with how it was reached, so a DSL can see why a lesson
was judged by one school's policy and not another's.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

# A single-school deployment's school, unless its policy names another id.
SOLE_SCHOOL_ID = "school"


class Placement(StrEnum):
    """How a lesson's school was decided, strongest evidence first."""

    pending = "pending"  # not decided yet (the lesson has just opened)
    only_school = "only-school"  # the deployment serves one school
    staff_group = "staff-group"  # the organizer is in exactly one school's staff group
    class_team = "class-team"  # the lesson's class team belongs to one school (educationClass -> educationSchool)
    timetable = "timetable"  # the lesson matches one school's timetable
    unknown = "unknown"  # none of them settled it: kept under, and judged by, the trust's default policy


class SchoolPlacement(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The school whose record the lesson is; for 'unknown', the trust default policy's id.
    school_id: str
    placement: Placement
    reason: str
