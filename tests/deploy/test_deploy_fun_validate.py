"""template.yml against the real validator of @alicloud/fun 3.6.24, offline; and a broken copy that must fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from .deploy_support import REPO, Fun

TEMPLATE = REPO / "template.yml"


def test_template_passes_fun_validate(fun: Fun) -> None:
    assert TEMPLATE.is_file()
    result = fun.validate(TEMPLATE)
    assert result.returncode == 0, result.output
    assert "ERR!" not in result.output and "not valid" not in result.output, result.output
    assert "Can't find template" not in result.output, result.output  # fun exits 0 when the file is missing
    assert result.connections == [], f"fun validate tried the network: {result.connections}"


@pytest.mark.parametrize(
    ("original", "broken", "complaint"),
    [
        # fun 3.6.24 knows no python3.10: the reason template.yml uses the custom runtime.
        ("        Runtime: custom\n", "        Runtime: python3.10\n", "Runtime"),
        # Native OSS triggers need both Prefix and Suffix.
        ("                Suffix: P\n", "                Suffx: P\n", "Suffix"),
        # An unknown property of the function.
        ("        CAPort: 9000", "        CaPort: 9000", "CaPort"),
    ],
)
def test_broken_template_fails_fun_validate(
    fun: Fun, tmp_path: Path, original: str, broken: str, complaint: str
) -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count(original) == 1, f"the test's anchor {original!r} is not unique in template.yml"
    copy = tmp_path / "template.yml"
    copy.write_text(text.replace(original, broken), encoding="utf-8")
    result = fun.validate(copy)
    assert result.returncode != 0, result.output
    assert "template is not valid" in result.output
    assert complaint in result.output
    assert result.connections == []
