"""verl's own dataset and reward loop over `videorft export verl`'s parquet score what `videorft score` does.

verl 0.9.1 requires transformers < 5.11 (we pin 5.24), so it cannot share our environment as a normal
dependency. The test installs it with ``pip install --no-deps --target`` into a cached folder, together
with only the packages its import chain for RLHFDataset and the reward loop needs, and runs verl's code
in a subprocess with our torch/transformers: the reward path is pure Python and tokenizer calls.
Cache: ``$VIDEORFT_VERL_SITE`` or ``~/.cache/videorft/verl-site-<hash of the pins>`` (CI on the same
machine reuses it; a new machine installs it, about a minute).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from videorft.cli.main import main

from .test_verl_export import BUDGET, completions_for

VERL_PINS = [
    "verl==0.9.1",
    "ray==2.60.0",  # verl.protocol imports ray
    "tensordict==0.10.0",
    "pyvers==0.2.3",  # tensordict's
    "omegaconf==2.4.0",
    "codetiming==1.4.0",
    "orjson==3.13.0",
    "msgpack==1.2.4",  # ray's import chain from here on
    "jsonschema==4.26.0",
    "jsonschema-specifications==2025.9.1",
    "referencing==0.37.0",
    "rpds-py==2026.9.1",
]

REPO = Path(__file__).resolve().parents[2]

VERL_SCRIPT = r"""
import asyncio, json, sys
import numpy as np, torch
from omegaconf import OmegaConf
from transformers import AutoProcessor, AutoTokenizer
from verl import DataProto
from verl.experimental.reward_loop.reward_loop import RewardLoopWorker
from verl.utils.dataset.rl_dataset import RLHFDataset

parquet, model_dir, completions_file, cache_dir, out_file = sys.argv[1:]
tokenizer = AutoTokenizer.from_pretrained(model_dir)
processor = AutoProcessor.from_pretrained(model_dir)
data_cfg = OmegaConf.create({"prompt_key": "prompt", "video_key": "videos", "image_key": "images",
                             "filter_overlong_prompts": False, "cache_dir": cache_dir})
dataset = RLHFDataset(parquet, tokenizer, data_cfg, processor=processor)
items = [dataset[i] for i in range(len(dataset))]
raw_prompts = [item["raw_prompt"] for item in items]

# one rollout per row: the completions videorft score also scored, as token ids right-padded like verl's
completions = json.loads(open(completions_file).read())
ids = [tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id] for c in completions]
width = max(map(len, ids))
responses = torch.full((len(ids), width), tokenizer.pad_token_id, dtype=torch.long)
mask = torch.zeros((len(ids), 3 + width), dtype=torch.long)
mask[:, :3] = 1  # a 3-token stand-in prompt: the reward loop reads only the response part
for i, row in enumerate(ids):
    responses[i, : len(row)] = torch.tensor(row)
    mask[i, 3 : 3 + len(row)] = 1
prompts = torch.ones((len(ids), 3), dtype=torch.long)
non_tensors = {k: np.array([item[k] for item in items], dtype=object) for k in ("data_source", "reward_model", "extra_info")}
batch = DataProto.from_dict(tensors={"prompts": prompts, "responses": responses, "attention_mask": mask},
                            non_tensors=non_tensors)

config = OmegaConf.create({
    "actor_rollout_ref": {"model": {"path": model_dir, "tokenizer_path": None}},
    "reward": {
        "custom_reward_function": {"path": "pkg://videorft.integrations.verl", "name": "compute_score",
                                   "reward_kwargs": {}},
        "reward_manager": {"source": "register", "name": "naive", "module": {"path": None}},
        "reward_model": {"enable": False},
    },
})
worker = RewardLoopWorker(config)  # what each Ray reward-loop actor runs
outputs = worker.loop.run_until_complete(worker.compute_score_batch(batch))
rm_scores = worker.reward_manager.assemble_rm_scores(batch, [o["reward_score"] for o in outputs])
json.dump({
    "reward_score": [o["reward_score"] for o in outputs],
    "extra": [o["reward_extra_info"] for o in outputs],
    "rm_scores_sum": rm_scores.sum(dim=1).tolist(),
    "raw_prompts": raw_prompts,
}, open(out_file, "w"), default=str)
"""


def verl_site() -> Path:
    """The cached ``--target`` folder holding verl and the packages its reward path imports."""
    digest = hashlib.sha256("\n".join(VERL_PINS).encode()).hexdigest()[:12]
    site = Path(
        os.environ.get("VIDEORFT_VERL_SITE") or Path.home() / ".cache" / "videorft" / f"verl-site-{digest}"
    )
    stamp = site / ".installed"
    if not stamp.exists():
        cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), *VERL_PINS]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            pytest.fail(
                f"installing verl failed: {' '.join(cmd)}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        stamp.write_text("\n".join(VERL_PINS) + "\n")
    return site


@pytest.mark.slow
def test_verls_reward_loop_scores_the_exported_parquet_like_videorft_score(
    synth_suite_dir: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    site = verl_site()
    out = tmp_path / "export"
    assert (
        main(["export", "verl", "--data", str(synth_suite_dir), "--split", "val", "--out", str(out), *BUDGET])
        == 0
    )
    parquet = out / "val.parquet"
    rows = datasets.load_dataset("parquet", data_files=str(parquet))["train"]

    # one completion per row, right and wrong alternating; videorft score scores the same lines
    completions, lines = [], []
    for i, row in enumerate(rows):
        solution = json.loads(row["reward_model"]["ground_truth"])
        completion = completions_for(row["data_source"], solution)[i % 2]
        completions.append(completion)
        lines.append({"task": row["data_source"], "completion": completion, "solution": solution,
                      **json.loads(row["extra_info"]["meta"])})  # fmt: skip
    (tmp_path / "completions.json").write_text(json.dumps(completions))
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert main(["score", str(tmp_path / "in.jsonl"), "-o", str(tmp_path / "scored.jsonl")]) == 0
    expected = [json.loads(x)["rewards"] for x in (tmp_path / "scored.jsonl").read_text().splitlines()]

    script = tmp_path / "run_verl.py"
    script.write_text(VERL_SCRIPT)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), str(site), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAY_USAGE_STATS_ENABLED="0")
    args = [
        str(parquet),
        str(tiny_model_dir),
        str(tmp_path / "completions.json"),
        str(tmp_path / "verl-cache"),
    ]
    proc = subprocess.run(
        [sys.executable, str(script), *args, str(tmp_path / "verl.json")],
        env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, f"verl run failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    got = json.loads((tmp_path / "verl.json").read_text())

    assert len(got["reward_score"]) == len(expected) == len(rows)
    for i, ref in enumerate(expected):
        assert got["reward_score"][i] == pytest.approx(ref["total"]), (rows[i]["data_source"], completions[i])
        assert got["rm_scores_sum"][i] == pytest.approx(ref["total"])  # the token-level reward verl trains on
        assert got["extra"][i]["format"] == pytest.approx(ref["format"])
    assert min(got["reward_score"][0::2]) > max(got["reward_score"][1::2])  # right answers above wrong ones
    # verl's RLHFDataset split the prompt into the video entry (with its budget) and the task text
    for raw, row in zip(got["raw_prompts"], rows, strict=True):
        (user,) = raw
        video, text = user["content"]
        assert video["type"] == "video" and video["nframes"] == row["videos"][0]["nframes"]
        assert text == {"type": "text", "text": row["prompt"][0]["content"].removeprefix("<video>")}
