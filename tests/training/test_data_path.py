"""The multi-process data path: media probed once per dataset (cached on disk), frames decoded and prompts
encoded in GRPO's data-loader workers with bad media replaced there as inline."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from videorft.cli.main import main
from videorft.data.loaders import ProbeCache, load_spec
from videorft.data.loaders import media as loader_media
from videorft.training.media_skips import SKIPPED_MEDIA_FILE

from .test_bad_media import BROKEN, broken_suite  # noqa: F401 (a fixture)
from .test_pipeline import ROOT, _run, read_log, write_config


def _count_probes(monkeypatch) -> list[str]:
    calls: list[str] = []
    probe = loader_media.probe_media

    def counting(path):
        calls.append(str(path))
        return probe(path)

    monkeypatch.setattr(loader_media, "probe_media", counting)
    return calls


def test_second_load_reads_the_probe_cache_and_a_touched_file_is_probed_again(
    synth_suite_dir, tmp_path, monkeypatch
):
    calls = _count_probes(monkeypatch)
    cache = tmp_path / "probes.json"
    first = load_spec(str(synth_suite_dir), check_videos=True, probe_cache=ProbeCache(cache))
    assert calls and len(calls) == len(set(calls)) == len(first.media)  # each file probed once

    calls.clear()
    again = ProbeCache(cache)
    second = load_spec(str(synth_suite_dir), check_videos=True, probe_cache=again)
    assert calls == [] and again.probes == 0
    assert second.media == first.media and [r.id for r in second.records] == [r.id for r in first.records]

    touched = sorted(first.media)[0]
    st = os.stat(touched)
    os.utime(touched, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    load_spec(str(synth_suite_dir), check_videos=True, probe_cache=ProbeCache(cache))
    assert calls == [touched]


def test_probe_errors_are_cached_too(broken_suite, tmp_path, monkeypatch):  # noqa: F811
    calls = _count_probes(monkeypatch)
    bad = broken_suite.parent / "unreadable"
    bad.mkdir()
    path = bad / "x.mp4"
    path.write_bytes(b"not a video")
    cache = ProbeCache(tmp_path / "probes.json")
    with pytest.raises(loader_media.MediaError):
        cache.probe(path)
    cache.save()
    with pytest.raises(loader_media.MediaError, match="x.mp4"):
        ProbeCache(tmp_path / "probes.json").probe(path)
    assert len(calls) == 1


def test_build_dataset_probes_once_per_dataset(synth_suite_dir, tmp_path, monkeypatch):
    from videorft.training.config import VideoDataArguments
    from videorft.training.run import build_dataset

    monkeypatch.setenv("VIDEORFT_CACHE", str(tmp_path))
    calls = _count_probes(monkeypatch)
    data_args = VideoDataArguments(data=str(synth_suite_dir))
    build_dataset(data_args)
    assert calls and list((tmp_path / "probes").glob("*.json"))
    calls.clear()
    build_dataset(data_args)
    assert calls == []


_TWO_PROCESS_SCRIPT = """
import json, os, sys, time
from trl import ModelConfig
import videorft.data.loaders.media as m
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.run import _prepare

calls = []
probe = m.probe_media
slow = os.environ.get("LOCAL_RANK") == "0"  # a slow main process: the other rank must wait, not probe too


def counting(path):
    calls.append(str(path))
    time.sleep(0.1 if slow else 0.0)
    return probe(path)


m.probe_media = counting
suite, model, out = sys.argv[1:4]
args = VideoGRPOConfig(output_dir=out, use_cpu=True, report_to="none", num_generations=2,
                       per_device_train_batch_size=2)
_prepare(VideoDataArguments(data=suite), args, ModelConfig(model_name_or_path=model))
with open(os.path.join(out, f"probes-{args.process_index}.json"), "w") as f:
    json.dump(calls, f)
"""


@pytest.mark.slow
def test_two_process_run_probes_once(tiny_model_dir, synth_suite_dir, tmp_path, monkeypatch):
    script = tmp_path / "probe_twice.py"
    script.write_text(_TWO_PROCESS_SCRIPT)
    out = tmp_path / "out"
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--config_file"]
    config = str(ROOT / "configs/accelerate/cpu_2proc.yaml")
    monkeypatch.setenv("VIDEORFT_CACHE", str(tmp_path / "cache"))
    proc = _run([*launcher, config, str(script), str(synth_suite_dir), str(tiny_model_dir), str(out)])
    output = proc.communicate(timeout=600)[0]
    assert proc.returncode == 0, output[-3000:]
    main_calls = json.loads((out / "probes-0.json").read_text())
    other_calls = json.loads((out / "probes-1.json").read_text())
    assert main_calls and len(main_calls) == len(set(main_calls))
    assert other_calls == []  # rank 1 read rank 0's probes


def test_mark_repeats_flags_the_copy_the_trainer_generates_from():
    from trl.trainer.utils import RepeatSampler

    from videorft.training.rollout_data import MarkRepeats

    def sampler():
        return RepeatSampler(list(range(6)), mini_repeat_count=2, batch_size=3, repeat_count=2, seed=0)

    marked = list(MarkRepeats(sampler()))
    assert [i for i, _ in marked] == list(sampler())
    blocks = [marked[k : k + 6] for k in range(0, len(marked), 6)]  # one generation batch each
    assert [all(flag for _, flag in b) for b in blocks] == [True, False, True, False]
    assert [not any(flag for _, flag in b) for b in blocks] == [False, True, False, True]


def test_collator_prepares_each_row_once_like_inline_and_replaces_bad_media(
    tiny_model_dir,
    broken_suite,  # noqa: F811
    monkeypatch,
):
    import torch

    from videorft import inputs as media
    from videorft.models.loading import load_processor
    from videorft.training.config import VideoDataArguments
    from videorft.training.media_skips import MediaSkips
    from videorft.training.rollout_data import PREPARED, RolloutCollator
    from videorft.training.run import build_dataset

    data_args = VideoDataArguments(
        data=str(broken_suite), tasks=["temporal_grounding"], limit=4, nframes=4,
        min_pixels=56 * 56, max_pixels=56 * 56,
    )  # fmt: skip
    dataset, _ = build_dataset(data_args)
    processor = load_processor(tiny_model_dir)
    decoded: list[str] = []
    load_video = media.load_video
    monkeypatch.setattr(
        media, "load_video", lambda path, budget: decoded.append(path) or load_video(path, budget)
    )
    rows = [dataset[i] for i in range(4) for _ in range(2)]  # G = 2 copies of each row
    skips = MediaSkips(dataset)
    batch = RolloutCollator(media.SampleEncoder.from_data_args(processor, data_args), skips)(rows)
    assert len(batch) == 8 and all(PREPARED in row for row in batch)
    assert set(Path(p).name for p in skips.bad) == set(BROKEN)
    assert len(decoded) == len(set(decoded))  # each video decoded once, the copies share it
    assert not {"tg_train_00000#0", "tg_train_00001#0"} & {row["id"] for row in batch}

    decoded.clear()
    inline = media.SampleEncoder.from_data_args(processor, data_args)
    for row in batch:
        prep = row[PREPARED]
        ids, vision = inline.encode(prep.record)  # what the trainer would compute itself
        assert ids == prep.prompt_ids
        assert torch.equal(vision.pixel_values_videos, prep.vision.pixel_values_videos)
    decoded.clear()
    trainer_side = media.SampleEncoder.from_data_args(processor, data_args)
    again = RolloutCollator(trainer_side, MediaSkips(dataset))(batch)  # the trainer's pass: rows go through
    assert all(a[PREPARED] is b[PREPARED] for a, b in zip(again, batch, strict=True))
    trainer_side.clip(batch[0][PREPARED].record)  # T-GRPO permutes this clip next: no second decode
    assert decoded == []


def _grpo_config(path: Path, model: Path, suite: Path, out: Path, workers: int) -> Path:
    return write_config(
        path,
        model_name_or_path=str(model),
        data=str(suite),
        output_dir=str(out),
        tasks=["temporal_grounding"],
        limit=6,
        save_strategy="no",
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,  # each generation batch comes out of the sampler twice
        num_generations=4,
        max_completion_length=4,
        max_steps=2,
        temporal=True,
        shuffled_generations=2,
        dataloader_num_workers=workers,
    )


def test_grpo_decodes_in_data_loader_workers_and_trains_as_inline(
    tiny_model_dir,
    broken_suite,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    from videorft import inputs as media

    pids = tmp_path / "decode_pids.txt"
    load_video = media.load_video

    def recording(path, budget):
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return load_video(path, budget)

    monkeypatch.setattr(media, "load_video", recording)
    runs = {}
    for workers in (0, 2):
        out = tmp_path / f"workers{workers}"
        cfg = _grpo_config(tmp_path / f"w{workers}.yaml", tiny_model_dir, broken_suite, out, workers)
        pids.unlink(missing_ok=True)
        assert main(["train", "grpo", str(cfg)]) == 0
        decoders = [int(p) for p in pids.read_text().split()]
        runs[workers] = {
            "decoders": decoders,
            "skipped": {
                Path(json.loads(x)["file"]).name for x in (out / SKIPPED_MEDIA_FILE).read_text().splitlines()
            },
            "ids": [json.loads(x)["ids"] for x in (out / "rollouts.jsonl").read_text().splitlines()],
            "log": [(row["num_tokens"], row["entropy"]) for row in read_log(out) if "entropy" in row],
        }
    assert set(runs[0]["decoders"]) == {os.getpid()}
    assert runs[2]["decoders"] and os.getpid() not in runs[2]["decoders"]  # the trainer never decoded
    # the second copy of each generation batch (which the trainer ignores) was not decoded: only the worker
    # that receives the first copies (batches 0, 2, ... of two workers) decoded anything
    assert len(set(runs[2]["decoders"])) == 1
    # workers prefetch a batch the run never reaches: its bad files are found (and logged) too
    assert runs[0]["skipped"] <= runs[2]["skipped"] <= set(BROKEN)
    assert runs[2]["ids"] == runs[0]["ids"]
    assert runs[2]["log"] == runs[0]["log"]  # the same rows, frames and prompts: the same step
