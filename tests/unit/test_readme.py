"""README is the user's contract: its two commands are the ones CI runs; the settings table (docs/deploy.md,
"Configuration") is the settings object's."""

from __future__ import annotations

from pathlib import Path

from ossfaces.settings import markdown_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DEPLOY = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")


def test_configuration_table_matches_the_settings() -> None:
    assert markdown_table() in DEPLOY, "regenerate docs/deploy.md's table from ossfaces.settings.markdown_table()"


def test_the_two_commands_are_the_ones_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("bash scripts/setup.sh", "bash scripts/test.sh"):
        assert command in README and command in ci


def test_readme_is_the_users_path_and_each_page_is_linked_once() -> None:
    """At most 200 lines; every page under docs/ reachable from README, each linked from README once."""
    assert len(README.splitlines()) <= 200
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert README.count(f"](docs/{page.name}") == 1, (
            f"README links docs/{page.name} {README.count(page.name)} times"
        )
