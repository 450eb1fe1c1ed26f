"""In a trust each school has its own AUP: staff sign the AUP of each school whose staff group
they are in, separately; the card names the school; a submission for a school the signer does
not work in is refused; reminders and `aup status` are per school."""

from __future__ import annotations

import pytest

from .helpers import (
    BROOK_PUPIL, BROOK_TEACHER, SHARED_TEACHER, TA, TEACHER, all_text, cards_in, run_cli, script_trust_people, trust_env,
)

pytestmark = pytest.mark.e2e

VALENCE_AUP = "2022-11"
BROOK_AUP = "2023-09"


def personal(app, text: str, person) -> dict:
    return app.teams.personal_message(text, person)


def sign_action(app, person, data: dict, **fields: str) -> dict:
    filled = {"name": person.name, "position": "Class teacher", "understood": "true", **data, **fields}
    return app.teams.card_action("signAup", filled, person, conversation_id=f"a:{person.teams_id}", conversation_type="personal")


async def last_card(app, connector, person) -> dict:
    return cards_in(connector.sent_activities(f"a:{person.teams_id}"))[-1]


def last_text(connector, person) -> str:
    return [a["text"] for a in connector.sent_activities(f"a:{person.teams_id}") if a.get("text")][-1]


async def signed(app, person, school_id: str, version: str) -> bool:
    return bool(await app.services.signatures.signed_by(version, {person.aad_object_id}, school_id=school_id))


async def test_the_shared_teacher_signs_each_schools_aup_separately(any_trust_app, connector):
    app = any_trust_app
    status, _ = await app.teams.post(personal(app, "sign", SHARED_TEACHER))
    assert status == 200
    card = await last_card(app, connector, SHARED_TEACHER)
    sign, *others = card["actions"]
    # Valence first (the trust file's order), naming the school and its version, Brook's offered beside it.
    assert sign["data"]["school"] == "valence" and sign["data"]["version"] == VALENCE_AUP
    assert sign["data"]["sha256"] == app.services.signing.document_of("valence").sha256
    assert "The AUP of Valence School" in all_text(card) and f"Version {VALENCE_AUP}" in all_text(card)
    assert [(o["verb"], o["data"]) for o in others] == [("openAup", {"school": "brook"})]

    status, receipt = await app.teams.post(sign_action(app, SHARED_TEACHER, sign["data"]))
    assert status == 200
    assert "Signed: thank you" in all_text(receipt["value"]) and "Valence School" in all_text(receipt["value"])
    assert await signed(app, SHARED_TEACHER, "valence", VALENCE_AUP)
    assert not await signed(app, SHARED_TEACHER, "brook", BROOK_AUP)  # still unsigned at Brook
    brook = {s.member.aad_object_id: s.signed_at for s in await app.services.signing.status("brook")}
    assert brook[SHARED_TEACHER.aad_object_id] is None
    valence = {s.member.aad_object_id: s.signed_at for s in await app.services.signing.status("valence")}
    assert valence[SHARED_TEACHER.aad_object_id] is not None

    await app.teams.post(personal(app, "status", SHARED_TEACHER))
    words = last_text(connector, SHARED_TEACHER)
    valence_line, brook_line = [line for line in words.splitlines() if line.startswith("- ")]
    assert valence_line.startswith("- Valence School:") and f"version {VALENCE_AUP}: signed on" in valence_line
    assert brook_line.startswith("- Brook Primary School:") and brook_line.endswith(f"version {BROOK_AUP}: not signed yet")

    # `sign` again: now Brook's, the first she has not signed; signing it is a second signature.
    await app.teams.post(personal(app, "sign", SHARED_TEACHER))
    card = await last_card(app, connector, SHARED_TEACHER)
    sign = card["actions"][0]
    assert sign["data"]["school"] == "brook" and sign["data"]["version"] == BROOK_AUP
    assert "The AUP of Brook Primary School" in all_text(card)
    status, receipt = await app.teams.post(sign_action(app, SHARED_TEACHER, sign["data"]))
    assert "Signed: thank you" in all_text(receipt["value"]) and "Brook Primary School" in all_text(receipt["value"])
    assert await signed(app, SHARED_TEACHER, "brook", BROOK_AUP)
    mine = [s for s in await app.services.signatures.all("valence") + await app.services.signatures.all("brook")
            if s.aad_object_id == SHARED_TEACHER.aad_object_id]
    assert sorted((s.school_id, s.version) for s in mine) == [("brook", BROOK_AUP), ("valence", VALENCE_AUP)]

    await app.teams.post(personal(app, "status", SHARED_TEACHER))
    words = last_text(connector, SHARED_TEACHER)
    assert "not signed yet" not in words and words.count("signed on") == 2


async def test_a_school_only_its_own_staff_sign(trust_app, connector):
    app = trust_app
    valence = app.services.signing.document_of("valence")
    valence_data = {"version": valence.version, "sha256": valence.sha256, "school": "valence"}

    # Brook's teacher submits Valence's AUP (a forged or forwarded card): refused, nothing stored.
    status, answer = await app.teams.post(sign_action(app, BROOK_TEACHER, valence_data))
    assert status == 200 and "Only the staff of Valence School can sign its AUP" in all_text(answer["value"])
    # A card without a school (or an unknown one) says which card to use.
    for data in ({k: v for k, v in valence_data.items() if k != "school"}, {**valence_data, "school": "elsewhere"}):
        status, answer = await app.teams.post(sign_action(app, TEACHER, data))
        assert "does not say which school's AUP" in all_text(answer["value"])
    assert await app.services.signatures.all("valence") == [] and await app.services.signatures.all("brook") == []

    # Opening Valence's AUP by its id is refused to Brook's teacher; her own card is Brook's, with no other offered.
    status, answer = await app.teams.post(app.teams.card_action("openAup", {"school": "valence"}, BROOK_TEACHER,
                                                                conversation_id=f"a:{BROOK_TEACHER.teams_id}",
                                                                conversation_type="personal"))
    assert "You are not on the staff of that school" in all_text(answer["value"])
    await app.teams.post(personal(app, "sign", BROOK_TEACHER))
    card = await last_card(app, connector, BROOK_TEACHER)
    assert [a["data"].get("school") for a in card["actions"]] == ["brook"]

    # A pupil is in no staff group: no AUP to sign.
    await app.teams.post(personal(app, "sign", BROOK_PUPIL))
    assert "you are not in any school's staff group" in all_text(await last_card(app, connector, BROOK_PUPIL))

    # A mistake on Brook's card comes back as Brook's card, naming the problem.
    brook = app.services.signing.document_of("brook")
    status, answer = await app.teams.post(sign_action(app, BROOK_TEACHER, {"version": brook.version, "sha256": brook.sha256,
                                                                           "school": "brook"}, position=""))
    assert "Enter your position." in all_text(answer["value"]) and "The AUP of Brook Primary School" in all_text(answer["value"])
    assert await app.services.signatures.all("brook") == []


async def test_reminders_are_per_school_and_name_the_school(trust_app, connector):
    app = trust_app
    await app.post_all([app.teams.installation(TEACHER)])  # gives Chaperone a Bot Connector address
    connector.clear()
    assert await app.services.signing.remind("brook") == (2, 0)
    reminded = [c.body for c in connector.requests("POST", "/v3/conversations") if c.body.get("members")]
    assert sorted(b["members"][0]["id"] for b in reminded) == sorted([BROOK_TEACHER.aad_object_id, SHARED_TEACHER.aad_object_id])
    card = reminded[0]["activity"]["attachments"][0]["content"]
    assert "of Brook Primary School" in all_text(card) and card["actions"][0]["data"] == {"version": BROOK_AUP, "school": "brook"}
    # Valence's reminders are Valence's own: the shared teacher reminded by Brook is still due one from Valence.
    assert await app.services.signing.remind("valence") == (3, 0)
    assert await app.services.signing.remind("brook") == (0, 2)
    people = sorted(b["members"][0]["id"] for b in (c.body for c in connector.requests("POST", "/v3/conversations")) if b.get("members"))
    assert people == sorted([BROOK_TEACHER.aad_object_id, SHARED_TEACHER.aad_object_id, TEACHER.aad_object_id, TA.aad_object_id,
                             SHARED_TEACHER.aad_object_id])


async def test_aup_status_command_needs_the_school_in_a_trust(tmp_path, database_url, graph):
    script_trust_people(graph)
    env = trust_env(database_url, graph.base_url)
    unnamed = run_cli(["aup", "status"], env, tmp_path)
    assert unnamed.returncode == 2 and "say which with --school (valence, brook)" in unnamed.stderr
    unknown = run_cli(["aup", "--school", "elsewhere", "status"], env, tmp_path)
    assert unknown.returncode == 2 and "--school elsewhere: not one of Riverside Learning Trust's schools" in unknown.stderr
    brook = run_cli(["aup", "--school", "brook", "status"], env, tmp_path)
    assert brook.returncode == 0, brook.stderr
    assert brook.stdout.startswith("Brook Primary School\n") and f"version {BROOK_AUP}" in brook.stdout
    assert BROOK_TEACHER.name in brook.stdout and SHARED_TEACHER.name in brook.stdout and TEACHER.name not in brook.stdout
    assert "0 of 2 signed" in brook.stdout
