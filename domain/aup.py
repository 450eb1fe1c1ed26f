"""The Remote Learning AUP staff sign: its exact text, version and fingerprint."""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict


class AupSection(BaseModel):
    model_config = ConfigDict(frozen=True)

    heading: str | None
    paragraphs: tuple[str, ...]


class AupDocument(BaseModel):
    """What a signature is bound to: the version and a SHA-256 of the exact text shown."""

    model_config = ConfigDict(frozen=True)

    title: str
    version: str
    text: str
    sections: tuple[AupSection, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @classmethod
    def from_markdown(cls, text: str, version: str) -> "AupDocument":
        """'# Title', '## Section' headings; paragraphs and '- ' bullets in between."""
        title = "Remote Learning Acceptable Use Policy"
        sections: list[AupSection] = []
        heading: str | None = None
        paragraphs: list[str] = []

        def close() -> None:
            if heading is not None or paragraphs:
                sections.append(AupSection(heading=heading, paragraphs=tuple(paragraphs)))

        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("# "):
                title = stripped[2:].strip()
            elif stripped.startswith("## "):
                close()
                heading, paragraphs = stripped[3:].strip(), []
            elif stripped:
                paragraphs.append(stripped)
        close()
        return cls(title=title, version=version, text=text, sections=tuple(sections))
