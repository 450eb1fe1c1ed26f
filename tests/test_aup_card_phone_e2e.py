"""The AUP signing card on a phone: rendered by Microsoft's Adaptive Cards renderer (npm
`adaptivecards`, tests/cards) in headless Chromium at a phone's size, the inputs and Sign are
on the first screen, and "Read the policy" opens the whole text."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cards.aup import signing_card
from config.startup import read_schools, read_settings

from .helpers import POLICY, chromium

pytestmark = pytest.mark.e2e

RENDERER = Path(__file__).parent / "cards" / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
PHONE = {"width": 360, "height": 740}  # a small Android phone, in CSS pixels

PAGE = """<!doctype html><html><head><meta name="viewport" content="width=device-width,initial-scale=1">
<style>body{margin:0;font-family:sans-serif;font-size:14px}</style></head><body><div id="card"></div></body></html>"""

RENDER = """(card) => {
  const adaptive = new AdaptiveCards.AdaptiveCard();
  adaptive.parse(card);
  document.getElementById('card').appendChild(adaptive.render());
}"""


def example_card() -> dict:
    policy = read_schools(read_settings(CHAPERONE_POLICY_FILE=POLICY, CHAPERONE_DEV_MODE=True)).default
    return signing_card(policy.aup_document(), "Amara Okafor", None)


async def test_on_a_phone_the_inputs_and_sign_are_on_the_first_screen_and_the_policy_opens_on_demand():
    if not RENDERER.exists():
        message = "npm adaptivecards is not installed in tests/cards (scripts/setup.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    card = example_card()
    async with chromium() as browser:
        page = await browser.new_page(viewport=PHONE)
        await page.set_content(PAGE)
        await page.add_script_tag(path=str(RENDERER))
        await page.evaluate(RENDER, card)

        sign = page.get_by_role("button", name="Sign")
        for element in (page.get_by_label("Your name"), page.get_by_label("Your position"), page.locator("input[type=checkbox]"), sign):
            box = await element.bounding_box()
            assert box is not None and box["y"] + box["height"] <= PHONE["height"], "must be visible without scrolling"
        folded = await page.evaluate("document.body.scrollHeight")

        await page.get_by_role("button", name="Read the policy").click()
        document = read_schools(read_settings(CHAPERONE_POLICY_FILE=POLICY, CHAPERONE_DEV_MODE=True)).default.aup_document()
        first_heading = next(s.heading for s in document.sections if s.heading)
        await page.get_by_text(first_heading, exact=True).first.wait_for(state="visible")
        opened = await page.evaluate("document.body.scrollHeight")
        # The whole policy is there, and it is long: shown first, it would push Sign pages down.
        assert opened > 3 * PHONE["height"] and folded <= 1.5 * PHONE["height"], (folded, opened)
    assert json.dumps(card).count('"isVisible": false') == 1
