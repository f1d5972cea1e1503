"""Oracle tests compare against pinned reference packages: a missing or wrong oracle is a failure, not a skip."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pinned_oracles_are_installed_at_their_pins() -> None:
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(.+)", d).groups() for d in dev if "==" in d)
    assert pins["qwen-vl-utils"] == version("qwen-vl-utils")  # the frame-budget oracle (tests/video)


def test_no_test_skips_when_its_oracle_is_missing() -> None:
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "tests").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if "importorskip(" in line and p.name != Path(__file__).name
    ]
    assert offenders == [], "import the pinned oracle instead (a missing oracle must fail the test)"
