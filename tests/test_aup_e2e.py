"""Staff sign the AUP through a card, end to end; the register, versions and reminders."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from standins.teams import Person

from .helpers import GUEST, MATHS, PUPIL_A, SLT, T0, TA, TEACHER, all_text, cards_in, dev_env, policy_with, run_app, script

pytestmark = pytest.mark.e2e

STAFF_GROUP = "grp-all-staff"


def submission(document, **overrides) -> dict:
    data = {"version": document.version, "sha256": document.sha256, "name": "Amara Okafor", "position": "Class teacher", "understood": "true"}
    data.update(overrides)
    return data


def sign_action(app, person: Person, data: dict) -> dict:
    return app.teams.card_action("signAup", data, person, conversation_id=f"a:{person.teams_id}", conversation_type="personal")


async def test_sign_returns_the_card_and_submitting_it_signs_once(dev_app, connector):
    teams = dev_app.teams
    status, _ = await teams.post(teams.personal_message("sign", TEACHER))
    assert status == 200
    [card] = cards_in(connector.sent_activities(f"a:{TEACHER.teams_id}"))
    [sign] = card["actions"]
    document = dev_app.services.signing.document
    assert sign["verb"] == "signAup" and sign["data"] == {"version": document.version, "sha256": document.sha256}
    assert "Session Management" in all_text(card) and "I have read and understood" in all_text(card)
    name_input = next(item for item in card["body"] if item.get("id") == "name")
    assert name_input["value"] == TEACHER.name  # prefilled from Teams

    status, receipt = await teams.post(sign_action(dev_app, TEACHER, {**sign["data"], "name": "Amara Okafor", "position": "Class teacher", "understood": "true"}))
    assert status == 200 and receipt["type"] == "application/vnd.microsoft.card.adaptive"
    text = all_text(receipt["value"])
    assert "Signed: thank you" in text and "Amara Okafor" in text and "Class teacher" in text and document.version in text
    [signature] = await dev_app.services.signatures.all()
    assert signature.aad_object_id == TEACHER.aad_object_id and signature.text_sha256 == document.sha256

    # Signing again keeps the first signature and says so.
    status, again = await teams.post(sign_action(dev_app, TEACHER, submission(document, name="Someone Else")))
    assert "You have already signed this version" in all_text(again["value"]) and "Amara Okafor" in all_text(again["value"])
    assert await dev_app.services.signatures.all() == [signature]


@pytest.mark.parametrize(
    "overrides, person, problem",
    [
        ({"understood": "false"}, TEACHER, "Confirm that you have read and understood"),
        ({"name": "   "}, TEACHER, "Enter your name."),
        ({"position": ""}, TEACHER, "Enter your position."),
        ({"version": "1999-01"}, TEACHER, "The AUP has changed since this card was sent"),
        ({"sha256": "0" * 64}, TEACHER, "The AUP has changed since this card was sent"),
        ({}, GUEST, "Only staff signed in with a Valence School account"),
    ],
)
async def test_bad_submissions_are_refused_on_the_card_and_store_nothing(dev_app, overrides, person, problem):
    document = dev_app.services.signing.document
    activity = sign_action(dev_app, person, submission(document, **overrides))
    if person is GUEST:
        activity["channelData"]["tenant"]["id"] = GUEST.tenant_id
    status, answer = await dev_app.teams.post(activity)
    assert status == 200 and problem in all_text(answer["value"])
    assert await dev_app.services.signatures.all() == []


def staff_graph(graph):
    for person in (TEACHER, TA, SLT):
        graph.add_person(person.aad_object_id, primary_role="teacher", name=person.name, groups=(STAFF_GROUP,))
    graph.add_person("aad-pupil-x", primary_role="student", name="Pupil X", groups=("grp-pupils",))


async def test_a_new_version_makes_everyone_unsigned_and_remind_sends_one_each(any_database_url, connector, graph, tmp_path):
    # A restart with a new policy on one database, on both.
    staff_graph(graph)
    staff = {'staff_group_ids = ["00000000-0000-4000-8000-00000000e002"]': f'staff_group_ids = ["{STAFF_GROUP}"]'}
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    v1 = policy_with(tmp_path / "v1", **staff)
    v2 = policy_with(tmp_path / "v2", **staff, **{'version = "2022-11"': 'version = "2023-09"'})

    async with run_app(dev_env(any_database_url, graph.base_url, CHAPERONE_POLICY_FILE=v1), connector.url) as app:
        await app.post_all([app.teams.installation(TEACHER)])  # gives Chaperone a Bot Connector address
        status, _ = await app.teams.post(sign_action(app, TEACHER, submission(app.services.signing.document)))
        assert status == 200
        before = {r.member.aad_object_id: bool(r.signed_at) for r in await app.services.signing.status()}
        assert before == {TEACHER.aad_object_id: True, TA.aad_object_id: False, SLT.aad_object_id: False}

    async with run_app(dev_env(any_database_url, graph.base_url, CHAPERONE_POLICY_FILE=v2), connector.url) as app:
        after = {r.member.aad_object_id: bool(r.signed_at) for r in await app.services.signing.status()}
        assert after == {TEACHER.aad_object_id: False, TA.aad_object_id: False, SLT.aad_object_id: False}
        connector.clear()
        assert await app.services.signing.remind() == (3, 0)
        reminded = [c.body["members"][0]["id"] for c in connector.requests("POST", "/v3/conversations") if c.body.get("members")]
        assert sorted(reminded) == sorted([TEACHER.aad_object_id, TA.aad_object_id, SLT.aad_object_id])
        # Within the interval nobody is reminded twice.
        assert await app.services.signing.remind() == (0, 3)
        assert len([c for c in connector.requests("POST", "/v3/conversations") if c.body.get("members")]) == 3


async def test_status_and_export_commands(database_url, connector, graph, tmp_path):
    staff_graph(graph)
    policy = policy_with(tmp_path, **{'staff_group_ids = ["00000000-0000-4000-8000-00000000e002"]': f'staff_group_ids = ["{STAFF_GROUP}"]'})
    env = dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=policy)
    async with run_app(env, connector.url) as app:
        await app.teams.post(sign_action(app, TA, submission(app.services.signing.document, name="Tom Hale", position="Teaching assistant")))
    root = Path(__file__).parent.parent

    def run(*args):
        return subprocess.run([sys.executable, str(root / "app.py"), *args], env={**os.environ, **env}, cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    status = run("aup", "status")
    assert status.returncode == 0, status.stderr
    assert "Mr Tom Hale" in status.stdout and "as Teaching assistant" in status.stdout and "NOT SIGNED" in status.stdout
    assert "1 of 3 signed" in status.stdout
    exported = run("export", "signatures", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert [(r["name"], r["position"], r["entra_object_id"], r["version"]) for r in rows] == [("Tom Hale", "Teaching assistant", TA.aad_object_id, "2022-11")]
    assert len(rows[0]["text_sha256"]) == 64


async def test_the_aup_signed_rule_uses_the_register(dev_app, connector, graph):
    from domain.findings import Status

    script(graph, connector)
    await dev_app.teams.post(sign_action(dev_app, TEACHER, submission(dev_app.services.signing.document)))
    teams = dev_app.teams
    await dev_app.post_all([teams.meeting_start(MATHS, T0), teams.join(MATHS, [TEACHER, TA, PUPIL_A], T0)])
    [lesson] = await dev_app.services.lessons.list_lessons()
    [finding] = [f for f in await dev_app.services.findings.for_lesson(lesson.id) if f.rule_id == "aup-signed"]
    assert finding.status is Status.failed and finding.message.endswith(f"not signed the current AUP: {TA.name}")


async def test_the_welcome_card_leads_to_the_signing_card(dev_app, connector):
    teams = dev_app.teams
    await dev_app.post_all([teams.installation(TA)])
    [welcome] = cards_in(connector.sent_activities(f"a:{TA.teams_id}"))
    [button] = welcome["actions"]
    assert button["verb"] == "openAup"
    status, answer = await teams.post(teams.card_action("openAup", button["data"], TA, conversation_id=f"a:{TA.teams_id}", conversation_type="personal"))
    assert status == 200 and any(a.get("verb") == "signAup" for a in answer["value"]["actions"])
