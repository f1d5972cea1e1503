"""End to end through a real OpenAI-compatible server: `transformers serve` on 127.0.0.1 serving the tiny
random Qwen2.5-VL checkpoint; the output then feeds the SFT collator.

Random weights write gibberish, so the request steers decoding with transformers' ``sequence_bias`` (sent
through ``--extra-body`` as a ``generation_config``, the way vLLM users pass ``guided_regex``): each token
of a fixed think/answer text gets +100 when the tokens before it match. Frames, prompt, server-side
vision encoding and decoding, the reasoning split, scoring, filtering and writing are all real.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from videorft.data.loaders import load_spec
from videorft.data.record import Record

THINK = "The first shape shows up in frame one."
FORCED = f"<think>{THINK}</think><answer>A</answer>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_tiny(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of `transformers serve` running the tiny checkpoint (started once, stopped at the end)."""
    from transformers.utils import is_serve_available

    if not is_serve_available():
        pytest.fail(
            "`transformers serve` needs fastapi, uvicorn, pydantic and openai: pip install -e . (openai is pinned)"
        )
    port = _free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())",
           "serve", str(tiny_model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]  # fmt: skip
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve not up after 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # its own session: only the server and its children
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def steering(tiny_model_dir: Path) -> dict:
    """``generation_config`` making the model write ``FORCED`` then stop (prefix-conditioned biases)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    start = tok.encode("<|im_start|>assistant\n", add_special_tokens=False)
    target = tok.encode(FORCED + "<|im_end|>", add_special_tokens=False)
    seq = start + target
    bias = [[seq[: len(start) + k + 1], 100.0] for k in range(len(target))]
    return {"generation_config": json.dumps({"sequence_bias": bias, "do_sample": True})}


def test_cot_through_transformers_serve_feeds_sft(
    served_tiny: str, tiny_model_dir: Path, synth_suite_dir: Path, tmp_path: Path
) -> None:
    from videorft.cli.main import main

    spec = f"videor1:{synth_suite_dir / 'annotations' / 'train' / 'video_r1.json'}"
    records = load_spec(spec, video_root=str(synth_suite_dir)).records[:4]
    assert [r.task for r in records] == ["multiple_choice"] * 4
    want_kept = [r.id for r in records if r.solution == "A"]
    assert 0 < len(want_kept) < 4  # the fixed answer "A" is right for some records only

    out = tmp_path / "cot" / "train_cot.json"
    argv = ["data", "cot", "--data", spec, "--video-root", str(synth_suite_dir), "--limit", "4",
            "--teacher-url", served_tiny, "--teacher-model", str(tiny_model_dir), "--out", str(out),
            "--max-tokens", "32", "--max-frames", "4", "--max-pixels", str(56 * 56), "--min-pixels", str(56 * 56), "--concurrency", "2",
            "--extra-body", json.dumps(steering(tiny_model_dir)), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    report = json.loads(out.with_name("train_cot.json.report.json").read_text())
    assert report["by_task"] == {
        "multiple_choice": {"kept": len(want_kept), "low_reward": 4 - len(want_kept)}
    }
    assert report["requests"] == 4 and report["retries"] == 0

    rows = json.loads(out.read_text())
    assert [r["id"] for r in rows] == want_kept
    # The server splits the think block into reasoning_content; the client puts it back.
    assert all(r["process"] == f"<think>{THINK}</think>" and r["teacher_answer"] == "A" for r in rows)

    # Rerun: everything from the cache, same file.
    before = out.read_text()
    assert main(argv) == 0
    assert json.loads(out.with_name("train_cot.json.report.json").read_text())["requests"] == 0
    assert out.read_text() == before

    # The SFT trainer's input: videor1 records with `process`, batched by the SFT collator.
    from videorft.data.loaders import to_hf_dataset
    from videorft.inputs import SampleEncoder
    from videorft.models.loading import load_processor
    from videorft.training.sft import VideoSFTCollator, sft_target
    from videorft.video import FrameBudget

    loaded = load_spec(f"videor1:{out}")
    assert not loaded.skipped and [r.meta["process"] for r in loaded.records] == [r["process"] for r in rows]
    processor = load_processor(tiny_model_dir)
    encoder = SampleEncoder(processor, FrameBudget(max_frames=4, min_pixels=56 * 56, max_pixels=56 * 56))
    collator = VideoSFTCollator(encoder)
    batch = collator(list(to_hf_dataset(loaded.records)))
    tok = processor.tokenizer
    first: Record = loaded.records[0]
    assert sft_target(first).startswith(f"<think>{THINK}</think>\n<answer>A</answer>")
    labels = batch["labels"][0][batch["labels"][0] != -100].tolist()
    assert tok.decode(labels).startswith(f"<think>{THINK}</think>\n<answer>A</answer>")
    assert batch["pixel_values_videos"].shape[0] > 0 and batch["input_ids"].shape[0] == len(rows)
