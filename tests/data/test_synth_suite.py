"""The rendered suite: videos decode, ground truth matches the pixels, annotations load through the
real loaders, and the same seed gives the same suite."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from videorft.data.loaders import load_spec
from videorft.data.synth import SPLITS, synthesize
from videorft.data.synth.oracle import (
    colour_box,
    count_appearances,
    option_colour,
    read_frames,
    visible_colours,
)

ALL_TASKS = {
    "temporal_grounding",
    "tracking",
    "multiple_choice",
    "numerical",
    "grounding_qa",
    "quality",
    "caption",
}


def _decode(path: str | Path) -> tuple[np.ndarray, float]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        fps = float(stream.average_rate)
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(stream)]), fps


@pytest.fixture(scope="module")
def records(synth_suite_dir: Path) -> dict[str, list]:
    return {s: load_spec(str(synth_suite_dir), split=s, check_videos=True).records for s in SPLITS}


def test_manifest_lists_every_format_per_split(synth_suite_dir: Path) -> None:
    manifest = yaml.safe_load((synth_suite_dir / "videorft_data.yaml").read_text())
    assert manifest["name"] == "synth" and list(manifest["splits"]) == list(SPLITS)
    for entries in manifest["splits"].values():
        formats = {e["format"] for e in entries}
        assert formats == {
            "charades_json",
            "got10k_json",
            "videor1",
            "nextgqa_json",
            "quality_json",
            "caption_json",
            "got10k_dir",
        }
        for e in entries:
            assert (synth_suite_dir / e["path"]).exists()


def test_annotations_load_through_the_real_loaders(synth_suite_dir: Path, records: dict[str, list]) -> None:
    info = json.loads((synth_suite_dir / "synth_info.json").read_text())
    for split in SPLITS:
        got: dict[str, int] = {}
        for r in records[split]:
            got[r.task] = got.get(r.task, 0) + 1
        want = {t: per[split] for t, per in info["records"].items() if t in ALL_TASKS}
        want["tracking"] += info["records"]["tracking (got10k_dir)"][split]
        assert got == want
    train = records["train"]
    assert {r.task for r in train} == ALL_TASKS
    ids = [r.id for s in SPLITS for r in records[s]]
    assert len(ids) == len(set(ids))  # unique across splits, not only within a file
    for r in train:
        assert Path(r.video).exists()
        if r.task == "tracking":
            assert r.meta["nframes"] == 8 and len(r.solution) == 8 and r.meta["first_box"] == r.solution[0]
        if r.task == "multiple_choice":
            assert 2 <= len(r.options) <= 4 and r.solution in "ABCD"[: len(r.options)]
        if r.task == "grounding_qa":
            assert len(r.options) == 5 and len(r.solution["intervals"]) == 1


def test_videos_decode_with_the_annotated_duration(synth_suite_dir: Path, records: dict[str, list]) -> None:
    for r in records["train"]:
        if "duration" not in r.meta or not r.video.endswith(".mp4"):
            continue
        frames, fps = _decode(r.video)
        assert frames.shape[1:] == (112, 112, 3)
        assert len(frames) / fps == pytest.approx(r.meta["duration"], abs=1e-5)


def test_grounding_intervals_match_the_pixels(records: dict[str, list]) -> None:
    checked = 0
    for r in records["train"]:
        if r.task != "temporal_grounding":
            continue
        colour = option_colour(r.problem)
        frames, fps = _decode(r.video)
        start, end = r.solution
        for j, frame in enumerate(frames):
            # frame j covers [j / fps, (j + 1) / fps): test its centre, clear of the 1e-6 s rounding
            assert (colour in visible_colours(frame)) == (start <= (j + 0.5) / fps < end), (r.id, j)
        checked += 1
    assert checked >= 8


def test_grounding_qa_answer_is_visible_exactly_in_its_interval(records: dict[str, list]) -> None:
    for r in records["train"]:
        if r.task != "grounding_qa":
            continue
        answer = r.options["ABCDE".index(r.solution["answer"])]
        frames, fps = _decode(r.video)
        ((start, end),) = r.solution["intervals"]
        on = [option_colour(answer) in visible_colours(f) for f in frames]
        assert on == [start <= (j + 0.5) / fps < end for j in range(len(frames))]


def test_counting_answers_can_be_read_from_the_sampled_frames(records: dict[str, list]) -> None:
    for r in records["train"]:
        if r.task == "numerical":
            frames = read_frames(r.video, nframes=8)  # what the model sees: 8 frames, 56x56
            assert count_appearances(frames, option_colour(r.problem)) == int(r.solution)


def test_tracking_boxes_match_the_pixels_of_the_sampled_frames(records: dict[str, list]) -> None:
    for r in records["train"]:
        if r.task != "tracking":
            continue
        if r.video.endswith(".mp4"):
            frames = read_frames(r.video, nframes=8, max_pixels=112 * 112)
        else:  # a GOT-10k folder: check its groundtruth.txt on the jpgs directly
            jpgs = sorted(Path(r.video).glob("*.jpg"))
            gt = (Path(r.video) / "groundtruth.txt").read_text().split()
            assert len(gt) == len(jpgs)
            frames = np.stack(
                [np.asarray(__import__("PIL.Image").Image.open(jpgs[i])) for i in r.meta["frame_indices"]]
            )
        colour = option_colour(r.problem)
        for frame, box in zip(frames, r.solution):
            found = colour_box(frame, colour)
            assert found is not None
            # chroma subsampling can cost a triangle its 1-px apex
            assert np.abs(np.asarray(found) - np.asarray(box) * 112).max() <= 3, (r.id, found, box)


def test_caption_events_follow_the_order_shapes_appear_in(records: dict[str, list]) -> None:
    for r in records["train"]:
        if r.task != "caption":
            continue
        frames, _ = _decode(r.video)
        appears = [option_colour(e) for e in r.solution["events"] if " appears " in e]
        first_seen = {}
        for j, frame in enumerate(frames):
            for c in visible_colours(frame):
                first_seen.setdefault(c, j)
        assert appears == sorted(first_seen, key=first_seen.get)


def _snapshot(root: Path) -> dict[str, object]:
    """Every annotation file's bytes and every video's decoded frames."""
    snap: dict[str, object] = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if p.suffix in (".json", ".yaml", ".txt", ".ini", ".label") and p.name != "synth_info.json":
            snap[rel] = p.read_bytes()
        elif p.suffix == ".mp4":
            snap[rel] = _decode(p)[0]
        elif p.suffix == ".jpg":
            snap[rel] = p.read_bytes()
    return snap


def _same(a: dict[str, object], b: dict[str, object]) -> bool:
    return a.keys() == b.keys() and all(
        np.array_equal(a[k], b[k]) if isinstance(a[k], np.ndarray) else a[k] == b[k] for k in a
    )


def test_same_seed_same_suite_in_one_or_two_processes(tmp_path: Path) -> None:
    tasks = ["multiple_choice", "tracking", "quality"]
    synthesize(tmp_path / "a", 4, seed=7, tasks=tasks, workers=1, got10k_sequences=1)
    synthesize(tmp_path / "b", 4, seed=7, tasks=tasks, workers=2, got10k_sequences=1)
    synthesize(tmp_path / "c", 4, seed=8, tasks=tasks, workers=1, got10k_sequences=1)
    a, b, c = (_snapshot(tmp_path / x) for x in "abc")
    assert any(k.endswith(".mp4") for k in a) and any(k.endswith(".jpg") for k in a)
    assert _same(a, b)
    assert not _same(a, c)
    assert a["annotations/train/video_r1.json"] != c["annotations/train/video_r1.json"]


def test_rerun_replaces_an_earlier_suite_but_refuses_a_foreign_folder(tmp_path: Path) -> None:
    out = tmp_path / "suite"
    synthesize(out, 3, seed=0, tasks=["quality"], workers=1)
    synthesize(out, 3, seed=0, tasks=["caption"], workers=1)
    assert not list((out / "videos").glob("quality_*")) and list((out / "videos").glob("caption_*"))
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        synthesize(tmp_path / "foreign", 3, tasks=["quality"], workers=1)
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"


def test_grounding_objects_sets_the_shapes_per_grounding_video(tmp_path: Path) -> None:
    import json

    from videorft.data.synth.config import SynthConfig

    for objects, counts in (((1, 1), {1}), ((2, 2), {2})):
        out = tmp_path / str(objects[0])
        synthesize(out, n=10, seed=0, tasks=["temporal_grounding"], workers=1, grounding_objects=objects)
        rows = json.loads((out / "annotations" / "train" / "charades_sta.json").read_text())
        assert {len(r["sentences"]) for r in rows.values()} == counts
    with pytest.raises(ValueError, match="grounding_objects"):
        SynthConfig(grounding_objects=(0, 1))
