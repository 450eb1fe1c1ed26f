"""The school's own words: cards, the lesson record and `app.py rules` quote the AUP the policy
file adopts (issue 12, item 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import alert_posts, all_text, dev_env, lobby_off_lesson, policy_with, run_app

pytestmark = pytest.mark.e2e

VALENCE_WORDS = "This includes: Use of waiting rooms"
WORDS_2023 = "Appropriate privacy and safety settings will be used to manage access and interactions."
TITLE_2023 = "Acceptable Use Policy for Digital Technologies (Staff and Volunteers) 2023"


def adopting_2023_only(tmp_path) -> str:
    return policy_with(tmp_path, **{'aup_documents = ["valence-2022", "staff-2023"]': 'aup_documents = ["staff-2023"]'})


async def test_the_slt_alert_quotes_the_adopted_aup_not_the_first_clause_in_the_rule(database_url, connector, graph, tmp_path):
    env = dev_env(database_url, graph.base_url, CHAPERONE_POLICY_FILE=adopting_2023_only(tmp_path))
    async with run_app(env, connector.url) as app:
        await lobby_off_lesson(app, connector, graph)
        [alert] = alert_posts(connector)
        text = all_text(alert)
        assert f'Policy: "{WORDS_2023}" ({TITLE_2023}' in text
        assert VALENCE_WORDS not in text and "Valence School Staff Remote Learning AUP" not in text


def test_app_rules_quotes_the_adopted_aup(tmp_path, sqlite_url):
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_DATABASE_URL": sqlite_url,
           "CHAPERONE_POLICY_FILE": adopting_2023_only(tmp_path)}
    result = subprocess.run([sys.executable, str(Path(__file__).parent.parent / "app.py"), "rules"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Adopted AUP: {TITLE_2023}")
    waiting_room = result.stdout.split("[on ] waiting-room")[1].split("[on ]")[0]
    assert WORDS_2023 in waiting_room and VALENCE_WORDS not in waiting_room
    timetabled = result.stdout.split("[on ] timetabled")[1].split("[on ]")[0]
    assert "no clause in the adopted AUP documents" in timetabled
