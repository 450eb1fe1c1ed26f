"""Every card in the gallery parses and validates in Microsoft's Adaptive Cards renderer
(npm adaptivecards, through node) with no errors and no warnings, and fits in 28 KB."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cards.common import MAX_BYTES
from cards.gallery import gallery
from config.policy import load_policy

from .helpers import POLICY

VALIDATOR = Path(__file__).parent / "cards" / "validate.js"
RENDERER = Path(__file__).parent / "cards" / "node_modules" / "adaptivecards"


def renderer_available() -> bool:
    return shutil.which("node") is not None and RENDERER.is_dir()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("gallery")
    files = {}
    for name, card in gallery(load_policy(POLICY)).items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(card, indent=2))
        files[name] = path
    return files


def test_the_gallery_has_every_card_chaperone_sends(written):
    assert {"reminder", "report-concern-form", "teacher-warning-for-the-organizer", "teacher-warning-as-everyone-sees-it",
            "slt-alert", "attendance-summary", "concern-for-the-dsl"} <= set(written)


def test_every_card_is_adaptive_card_1_5_and_fits_in_28_kb(written):
    for name, path in written.items():
        card = json.loads(path.read_text())
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.5", name
        assert len(json.dumps(card, separators=(",", ":")).encode()) <= MAX_BYTES, name


@pytest.mark.e2e
def test_every_card_validates_in_microsofts_renderer(written):
    if not renderer_available():
        if os.environ.get("CI"):
            pytest.fail("CI must validate the cards: node or tests/cards/node_modules/adaptivecards is missing (scripts/setup.sh installs it)")
        pytest.skip("needs Node.js and `npm install` in tests/cards (scripts/setup.sh does it when npm is present)")
    result = subprocess.run(["node", str(VALIDATOR), *map(str, written.values())], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    problems = {Path(file).stem: found for file, found in json.loads(result.stdout).items() if found}
    assert problems == {}


@pytest.mark.e2e
def test_the_validator_does_report_problems(tmp_path):
    # Guard against a validator that passes everything.
    if not renderer_available():
        pytest.skip("needs Node.js and the adaptivecards package")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "AdaptiveCard", "version": "1.5", "body": [
        {"type": "NoSuchElement"}, {"type": "Input.Text", "id": "x", "isRequired": True, "label": "X"}]}))
    result = subprocess.run(["node", str(VALIDATOR), str(bad)], capture_output=True, text=True, timeout=60)
    [found] = json.loads(result.stdout).values()
    assert any("UnknownElementType" in p for p in found) and any("RequiredInputsShouldHaveErrorMessage" in p for p in found)
