"""Every setting and every CLI command is documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import app
from service.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_setting_documented(name: str) -> None:
    assert f"`CASEDIGEST_{name.upper()}`" in README


@pytest.mark.parametrize("command", [c.name or c.callback.__name__ for c in app.registered_commands])  # type: ignore[union-attr]
def test_command_documented(command: str) -> None:
    assert f"casedigest {command}" in README


def test_ci_runs_the_readme_test_command() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci/run").read_text("utf-8")
    assert "./scripts/test.sh" in README and "./scripts/test.sh" in ci
