"""Fill in the manifest template, validate it against Microsoft's schema, write the zip.

Nothing is written unless every value is present and well-formed and the manifest validates.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema

HERE = Path(__file__).parent
TEMPLATE = HERE / "manifest.template.json"
# The schema is the one for the version the template declares (copied from Microsoft: schema/SOURCE.md).
MANIFEST_VERSION = json.loads(TEMPLATE.read_text(encoding="utf-8"))["manifestVersion"]
SCHEMA = HERE / "schema" / f"MicrosoftTeams.v{MANIFEST_VERSION}.schema.json"
ICONS = {"color.png": (192, 192), "outline.png": (32, 32)}
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
VERSION = re.compile(r"^\d+\.\d+\.\d+$")
HOST = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class ManifestError(ValueError):
    """A value the package needs is missing or malformed; nothing was written."""


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ManifestError(f"{path.name} is not a PNG file")
    return struct.unpack(">II", data[16:24])


def fill(app_id: str, version: str, public_url: str | None, developer_name: str) -> dict:
    problems = []
    if not GUID.match(app_id or ""):
        problems.append(f"MicrosoftAppId must be the bot's app registration id (a GUID), not {app_id!r}")
    if not VERSION.match(version or ""):
        problems.append(f"the app version must look like 1.2.3, not {version!r}")
    host = (urlsplit(public_url).hostname or "") if public_url else ""
    if not public_url or urlsplit(public_url).scheme != "https" or not HOST.match(host):
        problems.append(f"CHAPERONE_PUBLIC_URL must be Chaperone's https address (e.g. https://chaperone.school.example), not {public_url!r}")
    if not developer_name.strip():
        problems.append("the developer name (the school or its IT provider) is empty")
    if problems:
        raise ManifestError("cannot build the Teams app package:\n" + "\n".join(f"  {p}" for p in problems))
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in {"app_id": app_id.lower(), "version": version, "host": host, "developer_name": developer_name.strip()}.items():
        text = text.replace("{{" + key + "}}", json.dumps(value)[1:-1])
    return json.loads(text)


def validate(manifest: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    # The schema says draft-04 but uses `const` (draft-06+); Draft 7 honours both, so a wrong
    # manifestVersion is caught too.
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(manifest), key=lambda e: list(e.absolute_path))
    if errors:
        raise ManifestError("the manifest does not validate against Microsoft's schema:\n" + "\n".join(
            f"  {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors[:20]))
    for name, size in ICONS.items():
        if png_size(HERE / name) != size:
            raise ManifestError(f"{name} must be {size[0]}x{size[1]} pixels, not {png_size(HERE / name)}")


def build(out: Path, *, app_id: str, version: str, public_url: str | None, developer_name: str) -> dict:
    manifest = fill(app_id, version, public_url, developer_name)
    validate(manifest)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name in ICONS:
            package.write(HERE / name, name)
    partial.replace(out)  # all or nothing
    return manifest
