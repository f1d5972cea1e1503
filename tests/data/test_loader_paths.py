"""Every loader finds the same records whether the dataset path is relative, ``./``-prefixed or
absolute (a relative frame-folder path used to be re-rooted under itself and every sequence dropped)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fixtures_helpers import videor1_item, write_got_sequence, write_image, write_json

from videorft.data.loaders import list_formats, load_spec


def _charades_json(d: Path, put_video) -> str:
    put_video(d / "AAAAA.mp4")
    write_json(d / "sta.json", {"AAAAA": {"duration": 2.0, "timestamps": [[0.1, 1.0]], "sentences": ["a"]}})
    return "charades_json:{}/sta.json"


def _charades_txt(d: Path, put_video) -> str:
    put_video(d / "AAAAA.mp4")
    (d / "sta.txt").write_text("AAAAA 0.1 1.0##a person sits.\n", encoding="utf-8")
    return "charades_txt:{}/sta.txt"


def _got10k_json(d: Path, put_video) -> str:
    write_got_sequence(d / "val" / "GOT-10k_Val_000001", [(1, 1, 10, 10)] * 4)
    box = [0.1, 0.1, 0.5, 0.5]
    write_json(d / "got.json", [{"path": "val/GOT-10k_Val_000001", "object": "cat", "gt": [box] * 4}])
    return "got10k_json:{}/got.json"


def _got10k_dir(d: Path, put_video) -> str:
    write_got_sequence(d / "val" / "GOT-10k_Val_000001", [(1, 1, 10, 10)] * 8)
    write_got_sequence(d / "val" / "GOT-10k_Val_000002", [(2, 2, 10, 10)] * 8)
    return "got10k_dir:{}/val"


def _nextgqa_json(d: Path, put_video) -> str:
    put_video(d / "0067" / "3083302557.mp4")
    item = {
        "video": "0067/3083302557.mp4",
        "question": "what did the lady do?",
        "options": ["walk", "sit"],
        "answer": "B",
        "duration": 2.0,
        "glue": [[0.1, 1.0]],
    }
    write_json(d / "gqa.json", [item])
    return "nextgqa_json:{}/gqa.json"


def _nextgqa_csv(d: Path, put_video) -> str:
    put_video(d / "3083302557.mp4")
    (d / "test.csv").write_text(
        "video_id,question,answer,qid,a0,a1,a2,a3,a4\n3083302557,what did she do,sit,3,walk,sit,run,jump,fly\n",
        encoding="utf-8",
    )
    write_json(d / "gsub_test.json", {"3083302557": {"duration": 2.0, "location": {"3": [[0.1, 1.0]]}}})
    return "nextgqa_csv:{}/test.csv"


def _quality_json(d: Path, put_video) -> str:
    put_video(d / "v" / "0012.mp4")
    write_json(d / "q.json", [{"video": "v/0012.mp4", "question": "quality?", "answer": "low quality"}])
    return "quality_json:{}/q.json"


def _caption_json(d: Path, put_video) -> str:
    put_video(d / "v" / "0012.mp4")
    write_json(d / "c.json", [{"video": "v/0012.mp4", "duration": 2.0, "events": ["a man enters"]}])
    return "caption_json:{}/c.json"


def _videor1(d: Path, put_video) -> str:
    put_video(d / "LLaVA" / "clip1.mp4")
    write_image(d / "CLEVR" / "img1.png")
    items = [
        videor1_item(1, "./LLaVA/clip1.mp4"),
        videor1_item(2, "./CLEVR/img1.png", "numerical", data_type="image"),
    ]
    write_json(d / "r1.json", items)
    return "videor1:{}/r1.json"


BUILDERS: dict[str, Callable[[Path, object], str]] = {
    "charades_json": _charades_json,
    "charades_txt": _charades_txt,
    "got10k_json": _got10k_json,
    "got10k_dir": _got10k_dir,
    "nextgqa_json": _nextgqa_json,
    "nextgqa_csv": _nextgqa_csv,
    "quality_json": _quality_json,
    "caption_json": _caption_json,
    "videor1": _videor1,
}


def test_every_format_has_a_path_style_case():
    assert sorted(BUILDERS) == list_formats()


@pytest.mark.parametrize("fmt", sorted(BUILDERS))
def test_relative_dot_and_absolute_dataset_paths_load_the_same_records(fmt, tmp_path, put_video, monkeypatch):
    data = tmp_path / "datasets" / "mine"
    data.mkdir(parents=True)
    template = BUILDERS[fmt](data, put_video)
    monkeypatch.chdir(tmp_path)
    loaded = {}
    for style, base in [
        ("relative", "datasets/mine"),
        ("dot", "./datasets/mine"),
        ("absolute", str(data)),
    ]:
        records = load_spec(template.format(base), check_videos=True).records
        assert records, f"{fmt} with a {style} path loaded nothing"
        for r in records:
            media = r.video or r.image
            assert Path(media).exists(), f"{fmt} ({style}): {media} does not exist"
            assert Path(media).resolve().is_relative_to(data.resolve())
        loaded[style] = [(r.id, r.task, r.solution, Path(r.video or r.image).resolve()) for r in records]
    assert loaded["relative"] == loaded["dot"] == loaded["absolute"]


def test_manifest_with_relative_paths_from_another_working_folder(tmp_path, put_video, monkeypatch):
    data = tmp_path / "datasets" / "mine"
    data.mkdir(parents=True)
    _got10k_dir(data, put_video)
    (data / "videorft_data.yaml").write_text(
        "splits:\n  train:\n    - {format: got10k_dir, path: ./val, nframes: 4}\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    for spec in ("datasets/mine", "./datasets/mine/videorft_data.yaml", str(data)):
        assert len(load_spec(spec, split="train").records) == 2, spec
