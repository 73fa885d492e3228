"""The README tells the truth about targets, ports and settings."""

from __future__ import annotations

import re

from readmission.settings import Settings
from readmission_api.settings import Settings as ApiSettings
from readmission_local.services import PORTS

from tests.conftest import REPO

README = (REPO / "README.md").read_text()
# The README is the ten-minute read; reference material lives in docs/ (STYLE.md rule 10).
DOCS = {path.name: path.read_text() for path in sorted((REPO / "docs").glob("*.md"))}
EVERYTHING = "\n".join([README, *DOCS.values()])
MAKEFILE = (REPO / "Makefile").read_text()
TARGETS = set(re.findall(r"^([a-zA-Z0-9_-]+):.*## ", MAKEFILE, re.MULTILINE))


def test_every_make_command_in_the_readme_and_docs_exists() -> None:
    shown = set(re.findall(r"`make ([a-z][a-z0-9-]*)", EVERYTHING))
    assert shown - TARGETS == set()


def test_every_make_target_is_documented_in_the_reference() -> None:
    reference = DOCS["reference.md"]
    documented = set(re.findall(r"`make ([a-z][a-z0-9-]*)", reference))
    documented |= set(re.findall(r"/ `([a-z][a-z0-9-]*)`", reference))  # "`make a` / `b`" rows
    assert TARGETS - documented == set()


def test_the_readme_is_short_and_links_every_doc() -> None:
    assert len(README.splitlines()) <= 120
    for name in DOCS:
        assert f"(docs/{name})" in README, name


def test_the_two_commands_come_first() -> None:
    first_block = README.split("```")[1]
    assert "make up" in first_block and "make test" in first_block


def test_readme_ports_are_the_defaults() -> None:
    for name, port in PORTS.items():
        assert name in README, name
        assert str(port) in README, (name, port)


def test_every_setting_is_documented() -> None:
    for field in (*Settings.model_fields, *ApiSettings.model_fields):  # reference.md, serving.md
        assert f"`{field}`" in EVERYTHING, field
