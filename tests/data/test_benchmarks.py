"""Benchmark adapters: registry, documentation fields, and loading fixtures in each real format."""

from __future__ import annotations

import pytest
from fixtures_helpers import videor1_item, write_got_sequence, write_json

from videorft.data.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from videorft.data.errors import DataError
from videorft.data.loaders import get_format
from videorft.data.record import TASKS

NAMES = [
    "charades_sta",
    "got10k_val",
    "nextgqa",
    "mvbench",
    "tempcompass",
    "videomme",
    "videommmu",
    "vsibench",
    "mmvu",
]
VIDEO_R1_EVAL = NAMES[3:]


def test_registry_and_documentation():
    assert list(BENCHMARKS) == NAMES
    for b in BENCHMARKS.values():
        assert b.expected_file and b.source and b.metric, b.name
        assert set(b.tasks) <= set(TASKS)
        for fmt in b.accepted_formats():
            get_format(fmt)  # every format the adapter names is a registered loader
    with pytest.raises(ValueError, match=r"unknown benchmark 'mvbnech'; valid: charades_sta, got10k_val"):
        get_benchmark("mvbnech")


def test_published_numbers_from_the_papers():
    def value(name: str, model: str, metric: str, setting: str = "") -> float:
        (hit,) = [
            p
            for p in BENCHMARKS[name].published
            if (p.model, p.metric) == (model, metric) and setting in p.setting
        ]
        return hit.value

    assert value("charades_sta", "VideoChat-R1-7B", "mIoU") == 60.8
    assert value("charades_sta", "VideoChat-R1-7B", "R@0.7") == 50.2
    assert value("charades_sta", "Qwen2.5-VL-7B", "mIoU", "Qwen") == 43.6
    assert value("mvbench", "Video-R1-7B", "accuracy", "32") == 63.9
    assert value("videomme", "Video-R1-7B", "accuracy", "64") == 61.4
    assert value("vsibench", "Video-R1-7B", "mean of accuracy and MRA", "32") == 35.8
    assert {p.model for name in VIDEO_R1_EVAL for p in BENCHMARKS[name].published} == {"Video-R1-7B"}
    table = BENCHMARKS["mmvu"].published_table()
    assert table[0] == {
        "model": "Video-R1-7B",
        "metric": "accuracy",
        "value": 63.8,
        "setting": "32 frames",
        "source": "Video-R1 paper",
    }


@pytest.mark.parametrize("name", VIDEO_R1_EVAL)
def test_video_r1_eval_json(tmp_path, put_video, name):
    # Layout of src/r1-v/Evaluation/: eval_<name>.json beside the benchmark's video folders.
    folder = {"mvbench": "MVBench", "vsibench": "VSI-Bench", "mmvu": "MMVU"}.get(name, name)
    put_video(tmp_path / folder / "clip.mp4")
    items = [videor1_item(1, f"./{folder}/clip.mp4", data_source=name)]
    if "regression" in BENCHMARKS[name].tasks:
        items.append(videor1_item(2, f"./{folder}/clip.mp4", "regression", solution="<answer>2.5</answer>"))
    ann = write_json(tmp_path / BENCHMARKS[name].expected_file, items)
    result = load_benchmark(name, ann)
    assert [r.task for r in result.records] == [it["problem_type"].replace(" ", "_") for it in items]
    assert all(r.meta["benchmark"] == name for r in result.records)
    assert (
        result.records[0].video == str(tmp_path / folder / "clip.mp4") and result.records[0].solution == "B"
    )


def test_charades_sta_json_and_txt(tmp_path, put_video):
    put_video(tmp_path / "videos" / "3MSZA.mp4")
    ann = write_json(
        tmp_path / "charades_test.json",
        {
            "3MSZA": {
                "duration": 30.96,
                "timestamps": [[24.3, 30.4]],
                "sentences": ["person turn a light on."],
            }
        },
    )
    (rec,) = load_benchmark("charades_sta", ann, video_root=tmp_path / "videos").records
    assert rec.solution == [24.3, 30.4] and rec.meta["benchmark"] == "charades_sta"
    txt = tmp_path / "charades_sta_test.txt"
    txt.write_text("3MSZA 24.3 30.4##person turn a light on.\n")
    write_json(tmp_path / "durations.json", {"3MSZA": 30.96})
    (rec2,) = load_benchmark(
        "charades_sta", txt, video_root=tmp_path / "videos", durations=str(tmp_path / "durations.json")
    ).records
    assert (rec2.solution, rec2.problem, rec2.meta["duration"]) == (rec.solution, rec.problem, 30.96)


def test_got10k_val_json_and_folder(tmp_path):
    seq = write_got_sequence(
        tmp_path / "val" / "GOT-10k_Val_000010", [(8.0, 6.0, 16.0, 12.0)] * 9, size=(64, 48)
    )
    boxes = [[0.125, 0.125, 0.375, 0.375]] * 8
    ann = write_json(tmp_path / "got_val.json", [{"path": str(seq), "object": "sloth", "gt": boxes}])
    (from_json,) = load_benchmark("got10k_val", ann).records
    (from_dir,) = load_benchmark("got10k_val", tmp_path / "val").records  # format guessed from the folder
    assert from_json.solution == from_dir.solution == boxes
    assert from_dir.meta["frame_indices"] == [0, 1, 2, 3, 5, 6, 7, 8] and from_dir.problem == "sloth"


def test_nextgqa_json_and_csv(tmp_path, put_video):
    put_video(tmp_path / "1101" / "2574374895.mp4")
    item = {
        "id": "2574374895_8",
        "video": "1101/2574374895.mp4",
        "question": "what did the baby do near the end",
        "options": ["(A) clap", "(B) sit", "(C) lay on floor", "(D) pick it up", "(E) crawl"],
        "duration": 30,
        "glue": [[23.0, 27.7]],
        "answer": "(C)",
    }
    (a,) = load_benchmark("nextgqa", write_json(tmp_path / "nextgqa_test.json", [item])).records
    csv = tmp_path / "test.csv"
    csv.write_text(
        "video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
        "2574374895,900,640,480,what did the baby do near the end,lay on floor,8,TN,clap,sit,lay on floor,pick it up,crawl\n"
    )
    write_json(
        tmp_path / "gsub_test.json", {"2574374895": {"duration": 30, "location": {"8": [[23.0, 27.7]]}}}
    )
    write_json(tmp_path / "map_vid_vidorID.json", {"2574374895": "1101/2574374895"})
    (b,) = load_benchmark("nextgqa", csv).records
    assert a.solution == b.solution == {"answer": "C", "intervals": [[23.0, 27.7]]}
    assert a.options == b.options and a.video == b.video


def test_load_benchmark_errors(tmp_path, put_video):
    with pytest.raises(ValueError, match=r"benchmark 'mvbench' reads videor1, not 'charades_json'"):
        load_benchmark("mvbench", tmp_path / "x.json", format="charades_json")
    with pytest.raises(ValueError, match=r"unknown data format 'nope'"):
        load_benchmark("mvbench", tmp_path / "x.json", format="nope")
    put_video(tmp_path / "a.mp4")
    ann = write_json(
        tmp_path / "eval_mvbench.json", [videor1_item(1, "./a.mp4"), videor1_item(2, "./gone.mp4")]
    )
    with pytest.raises(DataError, match=r"eval_mvbench.json: record 1: field 'path': video file not found"):
        load_benchmark("mvbench", ann)
    result = load_benchmark("mvbench", ann, skip_invalid=True)
    assert len(result.records) == 1 and len(result.skipped) == 1
