"""The words of the school's AUP: clause maps per adopted document, outside the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.clauses import BUILT_IN, built_in_ids, load_clause_maps
from config.policy import PolicyError, parse_policy
from rules.registry import RULES, check_policy


def test_the_built_in_maps_load_and_quote_their_documents_word_for_word():
    maps = load_clause_maps([], Path.cwd())
    assert {m.id for m in maps} == {"valence-2022", "staff-2023"} == set(built_in_ids())
    # Between them the two AUPs give words for every rule Chaperone has.
    quoted = {c.rule for m in maps for c in m.clause}
    assert quoted == {r.id for r in RULES}
    for rule in RULES:
        assert rule.remediation and rule.title


def test_a_policy_quotes_only_the_documents_it_adopts():
    policy = parse_policy('[school]\nname = "A"\naup_documents = ["staff-2023"]\n')
    [(clause, document)] = policy.clauses_for("waiting-room")
    assert clause.text == "Appropriate privacy and safety settings will be used to manage access and interactions."
    assert document.id == "staff-2023"
    assert policy.clauses_for("timetabled") == []  # the 2023 AUP does not ask for it


def test_a_school_with_a_third_aup_adds_a_map_without_touching_rules(tmp_path):
    (tmp_path / "our-aup.txt").write_text("Staff must keep the waiting room switched on for every live lesson.\n")
    (tmp_path / "our-aup.clauses.toml").write_text(
        'title = "Our Academy Remote Learning AUP (2026)"\ntext = "our-aup.txt"\n\n'
        '[[clause]]\nrule = "waiting-room"\ntext = "Staff must keep the waiting room switched on for every live lesson."\n'
    )
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[school]\nname = "Our Academy"\naup_documents = ["our-aup.clauses.toml"]\n')
    policy = parse_policy(policy_file.read_text(), str(policy_file))
    check_policy(policy)
    [(clause, document)] = policy.clauses_for("waiting-room")
    assert document.title == "Our Academy Remote Learning AUP (2026)" and "every live lesson" in clause.text


@pytest.mark.parametrize(
    "map_text, words",
    [
        ('title = "T"\ntext = "doc.txt"\n[[clause]]\nrule = "waiting-room"\ntext = "words the document does not have"\n',
         "not in doc.txt word for word"),
        ('title = "T"\ntext = "missing.txt"\n', "cannot read the document text"),
        ('title = "T"\ntext = "doc.txt"\n[[clause]]\nrule = "waiting-room"\ntxt = "typo"\n', "clause"),
    ],
)
def test_a_clause_map_with_a_mistake_is_refused_at_start_up(tmp_path, map_text, words):
    (tmp_path / "doc.txt").write_text("The waiting room is used.\n")
    (tmp_path / "bad.toml").write_text(map_text)
    with pytest.raises(PolicyError, match=words):
        parse_policy('[school]\nname = "A"\naup_documents = ["bad.toml"]\n', str(tmp_path / "policy.toml"))


def test_a_map_naming_a_rule_chaperone_does_not_have_is_refused(tmp_path):
    (tmp_path / "doc.txt").write_text("Cameras on at all times.\n")
    (tmp_path / "odd.toml").write_text('title = "T"\ntext = "doc.txt"\n[[clause]]\nrule = "cameras-on"\ntext = "Cameras on at all times."\n')
    policy = parse_policy('[school]\nname = "A"\naup_documents = ["odd.toml"]\n', str(tmp_path / "policy.toml"))
    with pytest.raises(PolicyError, match="cameras-on"):
        check_policy(policy)


def test_an_unknown_built_in_name_says_which_exist():
    with pytest.raises(PolicyError, match="valence-2022"):
        parse_policy('[school]\nname = "A"\naup_documents = ["valence-2019"]\n')
    assert BUILT_IN.is_dir()
