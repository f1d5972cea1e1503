"""Session fixtures shared across packages: a tiny random Qwen2.5-VL and a small synthetic suite.

Both are built once per test worker (pytest-xdist) into a temporary folder; nothing is downloaded.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# A library's StreamHandler created while an earlier test's stderr was captured keeps that (later closed)
# stream; its next emit would print "--- Logging error ---" and a traceback into whichever test runs then,
# failing that test's "no Traceback on stderr" check for a pytest artefact. Outside pytest stderr never closes.
logging.raiseExceptions = False


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`videorft model init --size tiny` output (random weights, real tokenizer)."""
    from videorft.models import init_model

    return init_model("tiny", tmp_path_factory.mktemp("tiny-model") / "tiny", seed=0)


@pytest.fixture(scope="session")
def synth_suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic suite (every task, a few videos each) with its manifest."""
    from videorft.data.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "suite"
    synthesize(out, n=10, seed=0, progress=False)
    return out


@pytest.fixture
def retry_waits(caplog: pytest.LogCaptureFixture) -> Callable[[], list[float]]:
    """The waits (seconds) before each retry so far, as the openai client logs them (chat judge, CoT teacher)."""
    caplog.set_level(logging.INFO, logger="openai")
    return lambda: [float(x) for x in re.findall(r"Retrying request in ([\d.]+) seconds", caplog.text)]
