"""The policy file: the shipped example loads; mistakes are reported with field and line."""

from __future__ import annotations

import pytest

from config.policy import PolicyError, load_policy, parse_policy

from .helpers import POLICY


def test_the_shipped_example_policy_loads():
    policy = load_policy(POLICY)
    assert policy.school.name == "Valence School" and policy.school.timezone == "Europe/London"
    assert policy.people.is_dsl("00000000-0000-4000-8000-00000000a003")
    assert policy.people.is_slt("00000000-0000-4000-8000-00000000a001")
    assert not policy.people.is_slt(None) and not policy.people.is_slt("someone-else")


@pytest.mark.parametrize(
    "text, expected",
    [
        ('[school]\nname = "X"\ntimezone = "Mars/Olympus"\n', "line 3: school.timezone: Value error, unknown time zone 'Mars/Olympus'"),
        ('[school]\nname = "X"\n\n[[people.slt]]\nname = "A"\n', "line 4: people.slt.0.aad_object_id: Field required"),
        ('[school]\nname = "X"\ncolour = "blue"\n', "line 3: school.colour: Extra inputs are not permitted"),
        ("[people]\n", "school: Field required"),
        ('[school\nname = "X"\n', "not valid TOML"),
    ],
)
def test_mistakes_name_the_field_and_line(text, expected):
    with pytest.raises(PolicyError) as error:
        parse_policy(text, source="policy.toml")
    assert expected in str(error.value)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(PolicyError, match="cannot read policy file"):
        load_policy(tmp_path / "nope.toml")


def test_a_bad_rule_option_names_the_rule_field_and_line():
    from rules.registry import check_policy

    text = '[school]\nname = "X"\n\n[rules.two-staff]\ngrace_minutes = -1\n\n[rules.no-such-rule]\nenabled = true\n'
    policy = parse_policy(text, source="policy.toml")
    with pytest.raises(PolicyError, match="no-such-rule"):
        check_policy(policy)
    policy = parse_policy(text.split("[rules.no-such-rule]")[0], source="policy.toml")
    with pytest.raises(PolicyError) as error:
        check_policy(policy)
    assert "policy.toml, line 5: rules.two-staff.grace_minutes: Input should be greater than or equal to 0" in str(error.value)
