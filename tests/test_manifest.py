"""The Teams app package: validates against Microsoft's schema, icons the right size, and
every permission the code uses (and no other) is in the manifest and the deployment guide."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import jsonschema
import pytest
from aiohttp import web

from graph.permissions import BATCH_CALL, GRAPH_APPLICATION_PERMISSIONS, GRAPH_CALLS, RESOURCE_SPECIFIC_PERMISSIONS
from manifest.package import MANIFEST_VERSION, SCHEMA
from standins.graph import GraphStandIn

from .helpers import POLICY

ROOT = Path(__file__).parent.parent
NPM_SCHEMAS = Path(__file__).parent / "manifest" / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
APP_ID = "3f6a5c1e-1111-4222-8333-944455556666"


def build(tmp_path, **env_overrides) -> subprocess.CompletedProcess:
    env = {**os.environ, "CHAPERONE_DEV_MODE": "1", "CHAPERONE_POLICY_FILE": str(POLICY), "MicrosoftAppId": APP_ID,
           "MicrosoftAppTenantId": "5f1b3a1e-0000-4000-8000-5c8001000001",  # SingleTenant, the default
           "CHAPERONE_PUBLIC_URL": "https://chaperone.valence.example", "CHAPERONE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db"}
    env.update(env_overrides)
    return subprocess.run([sys.executable, str(ROOT / "app.py"), "manifest", "--out", str(tmp_path / "build" / "chaperone.zip")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)


def microsofts_schema(version: str) -> Path:
    """The schema as published in Microsoft's npm package (installed by scripts/setup.sh), or,
    outside CI without npm, the copy the packager uses (whose origin the next test checks where it can)."""
    published = NPM_SCHEMAS / f"v{version}" / "MicrosoftTeams.schema.json"
    if published.exists():
        return published
    if os.environ.get("CI"):
        pytest.fail(f"CI must validate against Microsoft's published schema: {published} is missing (scripts/setup.sh installs it)")
    return SCHEMA


def pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGBA, non-interlaced PNG with filter type 0 rows (as ours are)."""
    width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
    assert (depth, colour) == (8, 6), "expected 8-bit RGBA"
    data, at = b"", 8
    while at < len(png):
        length = struct.unpack(">I", png[at:at + 4])[0]
        if png[at + 4:at + 8] == b"IDAT":
            data += png[at + 8:at + 8 + length]
        at += 12 + length
    raw = zlib.decompress(data)
    stride = 1 + 4 * width
    rows = [raw[y * stride:(y + 1) * stride] for y in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


def most_common_colours(rows: list[bytes], n: int) -> list[tuple[int, int, int]]:
    counts: dict[tuple[int, int, int], int] = {}
    for row in rows:
        for x in range(0, len(row), 4):
            if row[x + 3] == 255:
                colour = (row[x], row[x + 1], row[x + 2])
                counts[colour] = counts.get(colour, 0) + 1
    return sorted(counts, key=counts.get, reverse=True)[:n]


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio."""
    def luminance(colour):
        channels = [c / 255 for c in colour]
        r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    lighter, darker = sorted((luminance(a), luminance(b)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


@pytest.mark.e2e
def test_the_package_validates_against_microsofts_schema_and_has_the_right_icons(tmp_path):
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "build" / "chaperone.zip") as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        color, outline = package.read("color.png"), package.read("outline.png")
    # 1.25 is the first schema with supportsChannelFeatures: the SLT alert channel may be private.
    assert manifest["manifestVersion"] == "1.25" and manifest["supportsChannelFeatures"] == "tier1"
    schema = json.loads(microsofts_schema(manifest["manifestVersion"]).read_text())
    assert schema["properties"]["manifestVersion"]["const"] == "1.25"
    errors = list(jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker()).iter_errors(manifest))
    assert errors == []
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID and manifest["webApplicationInfo"]["id"] == APP_ID
    assert manifest["validDomains"] == ["chaperone.valence.example"]
    bot = manifest["bots"][0]
    assert sorted(bot["scopes"]) == ["groupChat", "personal", "team"] and bot["supportsCalling"] is False
    titles = {c["title"] for group in bot["commandLists"] for c in group["commands"]}
    assert {"sign", "report", "status", "set alert channel", "help"} <= titles

    width, height, _ = pixels(color)
    assert (width, height) == (192, 192)
    background, shield = most_common_colours(pixels(color)[2], 2)
    assert contrast(background, shield) >= 4.5  # WCAG AA: the white tick and edge stand out on the shield
    assert manifest["accentColor"].lower() == "#%02x%02x%02x" % shield
    width, height, rows = pixels(outline)
    assert (width, height) == (32, 32)
    for row in rows:  # the outline icon is white on transparent
        for x in range(width):
            r, g, b, a = row[4 * x:4 * x + 4]
            assert a == 0 or (r, g, b, a) == (255, 255, 255, 255)
    assert any(row[3::4].count(255) for row in rows) and any(row[3::4].count(0) for row in rows)


def test_the_packagers_schema_is_microsofts_unchanged():
    published = NPM_SCHEMAS / f"v{MANIFEST_VERSION}" / "MicrosoftTeams.schema.json"
    if not published.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{published} is missing (scripts/setup.sh installs @microsoft/app-manifest)")
        pytest.skip("needs npm and `npm install` in tests/manifest (scripts/setup.sh does it when npm is present)")
    assert SCHEMA.read_bytes() == published.read_bytes()


@pytest.mark.e2e
def test_a_missing_or_malformed_value_is_a_clear_error_and_nothing_is_written(tmp_path):
    result = build(tmp_path, MicrosoftAppId="not-a-guid", CHAPERONE_PUBLIC_URL="http://insecure.example")
    assert result.returncode == 2
    assert "MicrosoftAppId must be the bot's app registration id (a GUID), not 'not-a-guid'" in result.stderr
    assert "CHAPERONE_PUBLIC_URL must be Chaperone's https address" in result.stderr
    assert not (tmp_path / "build").exists()


def test_the_manifest_asks_for_exactly_the_resource_specific_permissions_the_code_uses():
    template = json.loads((ROOT / "manifest" / "manifest.template.json").read_text())
    granted = {p["name"]: p["type"] for p in template["authorization"]["permissions"]["resourceSpecific"]}
    assert granted == {name: "Application" for name in RESOURCE_SPECIFIC_PERMISSIONS}


def test_the_deployment_guide_lists_every_permission_the_code_uses_and_no_other():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    named = set(re.findall(r"`([A-Z][A-Za-z]+(?:\.[A-Z][A-Za-z]+)+)`", guide))
    expected = set(GRAPH_APPLICATION_PERMISSIONS) | set(RESOURCE_SPECIFIC_PERMISSIONS)
    assert named == expected
    readme = (ROOT / "README.md").read_text()
    assert all(f"`{p}`" in readme for p in GRAPH_APPLICATION_PERMISSIONS)


def test_every_graph_call_the_stand_in_serves_has_its_permission_and_every_permission_a_call():
    # The tests run against the stand-in, so it serves exactly the calls the code makes.
    app = web.Application()
    GraphStandIn().routes(app)
    served = {f"{r.method} " + re.sub(r"\{\w+\}", "{id}", r.resource.canonical.removeprefix("/v1.0"))
              for r in app.router.routes() if r.method != "HEAD" and r.resource.canonical.startswith("/v1.0/")}
    assert served == set(GRAPH_CALLS) | {BATCH_CALL}  # (the stand-in's Entra token endpoint is not Graph)
    assert set(GRAPH_CALLS.values()) == set(GRAPH_APPLICATION_PERMISSIONS)


ATK = Path(__file__).parent / "atk" / "node_modules" / ".bin" / "atk"


@pytest.mark.e2e
def test_microsofts_agents_toolkit_validates_the_package(tmp_path):
    """`atk validate --manifest-file` (npm @microsoft/m365agentstoolkit-cli, installed by
    scripts/setup.sh into tests/atk): Microsoft's own checks, beyond the JSON schema."""
    if not ATK.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{ATK} is missing: scripts/setup.sh installs it with npm")
        pytest.skip("npm's @microsoft/m365agentstoolkit-cli is not installed (scripts/setup.sh installs it)")
    result = build(tmp_path)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "build" / "chaperone.zip") as package:
        package.extractall(tmp_path / "package")
    validated = subprocess.run([str(ATK), "validate", "--manifest-file", str(tmp_path / "package" / "manifest.json")],
                               cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "All passed" in validated.stdout
