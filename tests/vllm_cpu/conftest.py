"""vLLM tests: run inside the CPU vLLM env (``scripts/vllm_cpu_env.sh``; `.ci/run` does it).

Elsewhere (the shared dev venv has no vLLM) the modules are not collected. One engine on the tiny model is shared by the
whole session: starting one takes 1-5 minutes on a loaded 2-core machine.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

# The shared dev venv has no vLLM: these modules are not collected there. In the vLLM env `.ci/run` sets
# VIDEORFT_REQUIRE_VLLM=1, so a missing or broken vLLM is an import error there, never a silent skip.
if importlib.util.find_spec("vllm") is None and os.environ.get("VIDEORFT_REQUIRE_VLLM") != "1":
    collect_ignore_glob = ["test_*.py"]

# CPU: 1 GiB of KV cache is plenty for the tiny model; eager mode skips minutes of graph compilation; the
# engine core runs in this process (as in colocate training), so weights can be pushed into it directly.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("VIDEORFT_VLLM_EAGER", "1")
os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")

#: |vLLM log-prob - trainer forward log-prob| per token, float32 on CPU. Measured: <= 1e-4 text-only, ~1e-6
#: with an image, ~3e-3 with video (cause not isolated); a misplaced vision token or stale weights give 0.05-0.5.
LOGPROB_TOL = 0.01
MAX_MODEL_LEN = 4096


@pytest.fixture(scope="session")
def shared_llm(tiny_model_dir: Path):
    """One in-process vLLM engine on the tiny model (float32, like the HF model on CPU)."""
    from videorft.models import vllm_engine

    return vllm_engine.open_llm(str(tiny_model_dir), dtype="float32", seed=0, max_model_len=MAX_MODEL_LEN)


@pytest.fixture
def disk_weights_llm(shared_llm, tiny_model_dir: Path):
    """The shared engine holding the checkpoint's weights again (a training test may have pushed others)."""
    from safetensors.torch import load_file

    from videorft.models import vllm_engine

    weights = load_file(str(tiny_model_dir / "model.safetensors"))
    vllm_engine.push_weights(shared_llm, iter(weights.items()))
    return shared_llm
