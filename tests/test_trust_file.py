"""The trust file: one deployment for many schools, each with its own policy file; mistakes are
reported with the file and what to change. A school's own policy file still loads on its own."""

from __future__ import annotations

import shutil

import pytest

from config.policy import PolicyError
from config.trust import Schools, load_schools
from domain.placement import SOLE_SCHOOL_ID

from .helpers import BROOK_SLT, POLICY, TRUST_FILE, TRUST_LEAD, VALENCE_SLT


def test_the_example_trust_loads_each_school_with_its_own_policy():
    schools = load_schools(TRUST_FILE)
    assert schools.is_trust and schools.name == "Riverside Learning Trust"
    assert schools.ids == ("valence", "brook")
    valence, brook = schools.get("valence"), schools.get("brook")
    assert valence.school.name == "Valence School" and brook.school.name == "Brook Primary School"
    assert str(valence.hours.monday.closes) == "17:00:00" and str(brook.hours.monday.closes) == "15:30:00"
    assert valence.aup.version != brook.aup.version
    # A lesson no school claims, or a school since removed, is judged by the trust's default policy.
    assert schools.get(None) is schools.default and schools.get("gone") is schools.default
    assert schools.default.school.id == "trust" and not schools.known("trust")
    assert [p.school.id for p in schools.where_slt(BROOK_SLT.aad_object_id)] == ["brook"]
    assert [p.school.id for p in schools.where_slt(VALENCE_SLT.aad_object_id)] == ["valence"]
    assert schools.lead(TRUST_LEAD.aad_object_id).acts and schools.lead(VALENCE_SLT.aad_object_id) is None
    # Staff of any school is staff: a teacher in two schools is in both groups.
    assert len(schools.staff_group_ids) == 2


def test_a_single_school_needs_no_trust_file():
    schools = load_schools(POLICY)
    assert not schools.is_trust and schools.sole is schools.default
    assert schools.ids == (SOLE_SCHOOL_ID,) and schools.name == "Valence School"
    assert isinstance(Schools.single(schools.default), Schools)


def _copy_trust(tmp_path):
    folder = tmp_path / "trust"
    shutil.copytree(TRUST_FILE.parent, folder)
    (tmp_path / "policies").symlink_to(TRUST_FILE.parent.parent / "policies")  # the schools name ../policies/
    return folder


@pytest.mark.parametrize(
    "change, expected",
    [
        (("brook.toml", 'id = "brook"', 'id = "valence"'), "both have [school] id 'valence'"),
        (("default.toml", 'id = "trust"', 'id = "brook"'), "give the default policy an id of its own"),
        (("brook.toml", 'id = "brook"', 'id = "Brook School"'), "school.id: String should match pattern"),
        (("trust.toml", 'schools = ["valence.toml", "brook.toml"]', "schools = []"), "trust.schools: List should have at least 1 item"),
        (("trust.toml", "escalate_after_minutes = 30", "escalate_after_minutes = 0"), "trust.escalate_after_minutes"),
        (("trust.toml", 'default_policy = "default.toml"', 'default_policy = "missing.toml"'), "cannot read policy file"),
    ],
)
def test_trust_file_mistakes_are_named(tmp_path, change, expected):
    folder = _copy_trust(tmp_path)
    name, old, new = change
    path = folder / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    with pytest.raises(PolicyError) as error:
        load_schools(folder / "trust.toml")
    assert expected in str(error.value)
