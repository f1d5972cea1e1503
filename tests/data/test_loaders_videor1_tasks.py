"""The `videor1` loader on CoT rows of videorft's other tasks (problem_type = canonical task name)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from fixtures_helpers import videor1_item, write_json

from videorft.data.errors import DataError
from videorft.data.loaders import get_format, load_spec
from videorft.data.record import Record

OPTIONS = ["A. the cup", "B. the door", "C. the dog", "D. nothing"]


def rows_by_task() -> dict[str, dict[str, Any]]:
    """One row per extension task, spelled as `videorft data cot` writes them (paths relative to the file)."""

    def row(
        pid: str, task: str, problem: str, value: Any, meta: dict[str, Any], **over: Any
    ) -> dict[str, Any]:
        return {
            "problem_id": pid,
            "problem": problem,
            "data_type": "video",
            "problem_type": task,
            "options": [],
            "process": f"<think>reasoning about {pid}</think>",
            "solution": "<answer>ignored for these tasks</answer>",
            "path": f"./videos/{pid}.mp4",
            "data_source": "videorft-cot",
            "id": pid,
            "task": task,
            "reward": 0.9,
            "teacher_answer": "whatever the teacher said",
            "solution_value": value,
            "meta": meta,
            **over,
        }

    return {
        "temporal_grounding": row(
            "tg1", "temporal_grounding", "a person opens the door", [0.5, 1.25], {"duration": 2.0}
        ),
        "tracking": row(
            "tr1",
            "tracking",
            "sloth",
            [[0.1, 0.2, 0.3, 0.4], [0.15, 0.2, 0.35, 0.45]],
            {"object": "sloth", "first_box": [0.1, 0.2, 0.3, 0.4], "nframes": 2},
        ),
        "grounding_qa": row(
            "gq1",
            "grounding_qa",
            "What does the man pick up?",
            {"answer": "C", "intervals": [[0.0, 0.5], [1.0, 1.5]]},
            {"duration": 2.0, "video_start": 0.0, "video_end": 1.75},
            options=OPTIONS,
        ),
        "quality": row("q1", "quality", "Is this video of high quality?", "high quality", {"duration": 2.0}),
        "caption": row(
            "c1", "caption", "", {"events": ["a dog runs in.", "the dog sits."]}, {"duration": 2.0}
        ),
    }


#: What each row above must load as (written independently of the loader).
EXPECTED_SOLUTIONS: dict[str, Any] = {
    "temporal_grounding": [0.5, 1.25],
    "tracking": [[0.1, 0.2, 0.3, 0.4], [0.15, 0.2, 0.35, 0.45]],
    "grounding_qa": {"answer": "C", "intervals": [[0.0, 0.5], [1.0, 1.5]]},
    "quality": "high quality",
    "caption": {"events": ["a dog runs in.", "the dog sits."]},
}


@pytest.fixture
def ann_dir(tmp_path: Path, put_video) -> Path:
    for r in rows_by_task().values():
        put_video(tmp_path / r["path"])
    put_video(tmp_path / "videos" / "mc.mp4")
    return tmp_path


def test_every_extension_task_loads_as_written(ann_dir: Path) -> None:
    rows = list(rows_by_task().values())
    mc = videor1_item(7, "./videos/mc.mp4", process="<think>mc</think>")  # Video-R1's own rows still load
    ann = write_json(ann_dir / "cot.json", [*rows, mc])

    result = load_spec(f"videor1:{ann}")

    assert not result.skipped
    records = {r.task: r for r in result.records}
    assert result.task_counts() == {t: 1 for t in [*EXPECTED_SOLUTIONS, "multiple_choice"]}
    for row in rows:
        rec = records[row["task"]]
        assert rec.id == row["id"]
        assert rec.problem == row["problem"]
        assert rec.solution == EXPECTED_SOLUTIONS[rec.task]
        assert rec.options == row["options"]
        assert rec.data_type == "video" and rec.image is None
        assert os.path.samefile(rec.video, ann_dir / row["path"])
        for key, value in row["meta"].items():
            assert rec.meta[key] == value, (rec.task, key)
        assert rec.meta["process"] == row["process"]
        assert rec.meta["problem_type"] == row["problem_type"] and rec.meta["problem_id"] == row["problem_id"]
        assert rec.meta["data_source"] == "videorft-cot"
        assert rec.meta["source_file"] == str(ann) and rec.meta["source_index"] == rows.index(row)
    assert (
        records["multiple_choice"].solution == "B" and records["multiple_choice"].id == "LLaVA-Video-178K-7"
    )
    assert set(get_format("videor1").tasks) >= set(EXPECTED_SOLUTIONS)


def test_loose_solution_spellings_are_normalised(ann_dir: Path) -> None:
    rows = rows_by_task()
    rows["temporal_grounding"]["solution_value"] = "0.5 to 1.25"
    rows["grounding_qa"]["solution_value"] = {"answer": "(C)", "glue": [[0, 0.5], [1, 1.5]]}
    rows["caption"]["solution_value"] = ["  a dog runs in. ", "the dog sits."]
    rows["quality"]["solution_value"] = " high quality "
    rows["tracking"]["solution_value"] = [[0.1, 0.2, 0.3, 0.4], [0.15, 0.2, 0.35, 0.45]]
    ann = write_json(ann_dir / "loose.json", list(rows.values()))
    got = {r.task: r.solution for r in load_spec(f"videor1:{ann}").records}
    assert got == EXPECTED_SOLUTIONS


def test_a_tracking_row_without_nframes_samples_one_frame_per_box(ann_dir: Path) -> None:
    row = rows_by_task()["tracking"]
    del row["meta"]["nframes"]
    ann = write_json(ann_dir / "tr.json", [row])
    (rec,) = load_spec(f"videor1:{ann}").records
    assert rec.nframes == len(rec.solution) == 2  # what the prompt and the frame sampler read


def test_rows_without_meta_or_id_load(ann_dir: Path) -> None:
    row = rows_by_task()["temporal_grounding"]
    del row["meta"], row["id"], row["task"]
    ann = write_json(ann_dir / "bare.json", [row])
    (rec,) = load_spec(f"videor1:{ann}").records
    assert rec.id == "videorft-cot-tg1"  # Video-R1's id rule: data_source-problem_id
    assert rec.solution == [0.5, 1.25] and "duration" not in rec.meta


def _mutate(task: str, change: dict[str, Any], meta_change: dict[str, Any] | None = None) -> dict[str, Any]:
    row = copy.deepcopy(rows_by_task()[task])
    for key, value in change.items():
        if value is _DROP:
            del row[key]
        else:
            row[key] = value
    if meta_change:
        row["meta"].update(meta_change)
    return row


_DROP = object()

MALFORMED = [
    # (row, field named in the error, words of the reason)
    (_mutate("quality", {"problem_type": "video quality"}), "problem_type", "temporal_grounding"),
    (_mutate("tracking", {"solution_value": _DROP}), "solution_value", "missing"),
    (_mutate("temporal_grounding", {"solution_value": [1.5, 0.5]}), "solution_value", "start <= end"),
    (_mutate("temporal_grounding", {"solution_value": "soon"}), "solution_value", "[start, end]"),
    (_mutate("temporal_grounding", {"solution_value": [2.5, 3.0]}), "solution_value", "video's end"),
    (_mutate("tracking", {"solution_value": [[0.1, 0.2, 1.5, 0.4]]}), "solution_value", "[0, 1]"),
    (_mutate("tracking", {"solution_value": [[0.3, 0.2, 0.1, 0.4]]}), "solution_value", "x0 > x1"),
    (_mutate("tracking", {}, {"nframes": 3}), "meta.nframes", "one box per sampled frame"),
    (
        _mutate("tracking", {"solution_value": [[0.1, 0.2, 0.3, 0.4]] * 3}, {"nframes": 3}),
        "solution_value",
        "even number of boxes",
    ),
    (_mutate("tracking", {}, {"nframes": "2"}), "meta.nframes", "positive integer"),
    (_mutate("tracking", {}, {"first_box": [0.1, 0.2]}), "meta.first_box", "x0, y0, x1, y1"),
    (_mutate("tracking", {}, {"object": ""}), "meta.object", "non-empty string"),
    (_mutate("tracking", {"data_type": "image"}), "data_type", "needs a video"),
    (
        _mutate("grounding_qa", {"solution_value": {"answer": "F", "intervals": [[0, 1]]}}),
        "solution_value.answer",
        "not one of the 4 options",
    ),
    (_mutate("grounding_qa", {"solution_value": {"answer": "C"}}), "solution_value.intervals", "missing"),
    (
        _mutate("grounding_qa", {"solution_value": {"answer": "C", "intervals": [[2, 1]]}}),
        "solution_value.intervals",
        "interval 0",
    ),
    (_mutate("grounding_qa", {"options": []}), "options", "non-empty list of options"),
    (_mutate("grounding_qa", {}, {"video_start": 1.75}), "meta.video_end", "not after video_start"),
    (_mutate("caption", {"solution_value": {"events": []}}), "solution_value", "no events"),
    (_mutate("caption", {"solution_value": {"sentences": ["x."]}}), "solution_value.events", "missing"),
    (_mutate("quality", {"solution_value": "  "}), "solution_value", "non-empty string"),
    (_mutate("quality", {"meta": ["duration", 2.0]}), "meta", "JSON object"),
    (_mutate("quality", {}, {"duration": -1}), "meta.duration", "positive number"),
    (_mutate("quality", {}, {"duration": "long"}), "meta.duration", "expected a number"),
    (_mutate("quality", {}, {"process": "<think>x</think>"}), "meta.process", "set by the loader"),
    (_mutate("quality", {"task": "caption"}), "task", "disagrees with problem_type"),
]


@pytest.mark.parametrize(
    ("row", "field", "words"), MALFORMED, ids=[f"{m[1]}-{i}" for i, m in enumerate(MALFORMED)]
)
def test_malformed_row_names_file_record_and_field(
    ann_dir: Path, row: dict[str, Any], field: str, words: str
) -> None:
    good = rows_by_task()["quality"]
    ann = write_json(ann_dir / "bad.json", [good, row])
    with pytest.raises(DataError) as info:
        load_spec(f"videor1:{ann}")
    err = info.value
    assert (err.file, err.index, err.field) == (str(ann), 1, field)
    assert words in err.reason
    assert str(err).startswith(f"{ann}: record 1: field {field!r}: ")


def test_skip_invalid_counts_and_reports_bad_rows(ann_dir: Path) -> None:
    good = list(rows_by_task().values())
    bad = [m[0] for m in MALFORMED[:3]]
    ann = write_json(ann_dir / "mixed.json", [good[0], bad[0], good[1], bad[1], bad[2], *good[2:]])

    result = load_spec(f"videor1:{ann}", skip_invalid=True)

    assert [r.id for r in result.records] == [r["id"] for r in good]
    assert [(s.index, s.field) for s in result.skipped] == [
        (1, "problem_type"),
        (3, "solution_value"),
        (4, "solution_value"),
    ]
    summary = result.summary()
    assert "loaded 5 records" in summary and "skipped 3" in summary
    assert "record 1: field 'problem_type': unknown 'video quality'" in summary


def test_cot_rows_of_loaded_records_round_trip(ann_dir: Path, put_video) -> None:
    """Real flow: records from the task loaders -> `cot_row` -> JSON -> the `videor1` loader."""
    from videorft.data.cot.pipeline import META_KEYS, SampleScore, cot_row
    from videorft.files import write_json

    src = ann_dir / "src"
    for name in ("v_tg", "v_gqa", "v_q", "v_cap"):
        put_video(src / f"{name}.mp4")
    put_video(src / "got" / "seq1.mp4")
    write_json(
        src / "charades.json",
        {"v_tg": {"duration": 2.0, "timestamps": [[0.25, 1.5]], "sentences": ["a cat jumps"]}},
    )
    write_json(
        src / "got.json",
        [{"path": "got/seq1.mp4", "object": "sloth", "boxes": [[0.1, 0.1, 0.5, 0.5], [0.2, 0.1, 0.6, 0.5]]}],
    )
    write_json(
        src / "gqa.json",
        [
            {
                "video": "v_gqa.mp4",
                "question": "why?",
                "options": ["(A) x", "(B) y"],
                "answer": "B",
                "duration": 2.0,
                "glue": [[0.5, 1.0]],
            }
        ],
    )
    write_json(
        src / "quality.json", [{"video": "v_q.mp4", "question": "Good quality?", "answer": "low quality"}]
    )
    write_json(
        src / "caption.json",
        [{"video": "v_cap.mp4", "duration": 2.0, "events": ["A cat appears.", "It leaves."]}],
    )
    specs = ["charades_json", "got10k_json", "nextgqa_json", "quality_json", "caption_json"]
    files = ["charades.json", "got.json", "gqa.json", "quality.json", "caption.json"]
    originals: list[Record] = [
        rec for spec, f in zip(specs, files) for rec in load_spec(f"{spec}:{src / f}").records
    ]
    assert sorted(r.task for r in originals) == sorted(EXPECTED_SOLUTIONS)

    out_dir = ann_dir / "cot"
    best = SampleScore(0, "<think>because</think><answer>x</answer>", True, 0.8, {})
    rows = [cot_row(rec, best, out_dir) for rec in originals]
    write_json(out_dir / "cot.json", rows, indent=1, ensure_ascii=False)
    loaded = load_spec(f"videor1:{out_dir / 'cot.json'}")

    assert not loaded.skipped
    for orig, rec in zip(originals, loaded.records, strict=True):
        assert (rec.id, rec.task, rec.problem, rec.solution, rec.options) == (
            orig.id,
            orig.task,
            orig.problem,
            orig.solution,
            orig.options,
        )
        assert os.path.samefile(rec.video, orig.video)
        assert {k: rec.meta.get(k) for k in META_KEYS} == {k: orig.meta.get(k) for k in META_KEYS}
        assert rec.meta["process"] == "<think>because</think>"
    # Writing the loaded records again gives the same rows (problem_type / problem_id are kept).
    again = [cot_row(rec, best, out_dir) for rec in loaded.records]
    assert json.loads(json.dumps(again)) == json.loads((out_dir / "cot.json").read_text())
