"""The examples in the reward docstrings are true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["rules", "trl"])
def test_docstring_examples(module: str) -> None:
    mod = importlib.import_module(f"videorft.rewards.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
