"""The suite's own settings that CI depends on."""

from __future__ import annotations

import pytest


def test_only_failed_tests_keep_their_tmp_path(pytestconfig: pytest.Config) -> None:
    # The default suite writes about 4 GB of checkpoints; with pytest's default ("all", three sessions kept)
    # CI once ran out of disk mid-suite. Kept only for failures, the folders peak near 1.5 GB.
    assert pytestconfig.getini("tmp_path_retention_policy") == "failed"
    assert int(pytestconfig.getini("tmp_path_retention_count")) <= 1
