"""README is the user's contract: its configuration table is the settings object's, and its two commands exist."""

from __future__ import annotations

from pathlib import Path

from ossfaces.settings import markdown_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_configuration_table_matches_the_settings() -> None:
    assert markdown_table() in README, "regenerate README's table from ossfaces.settings.markdown_table()"


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("bash scripts/setup.sh", "bash scripts/test.sh"):
        assert command in README and command in ci
