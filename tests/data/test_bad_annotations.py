"""Hostile annotation files: a clear error naming file, line/record and field, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fixtures_helpers import videor1_item, write_json

from videorft.cli.main import main
from videorft.data.errors import DataError
from videorft.data.loaders import load_spec
from videorft.data.loaders.spec import load_sources, resolve_spec


def _charades_txt(txt: Path, durations: Path):
    return load_sources(resolve_spec(f"charades_txt:{txt}"), options={"durations": str(durations)})


def _items(root: Path, put_video, n: int = 3) -> list[dict]:
    for k in range(n):
        put_video(root / "videos" / f"v{k}.mp4")
    return [videor1_item(k, f"videos/v{k}.mp4") for k in range(n)]


def test_json_nested_thousands_deep_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(DataError, match=r"deep.json: JSON nested too deeply"):
        load_spec(f"videor1:{path}", video_root=str(tmp_path))


def test_torn_jsonl_line_names_its_line_and_skip_mode_skips_only_it(tmp_path, put_video):
    items = _items(tmp_path, put_video)
    lines = [json.dumps(i) for i in items]
    lines[1] = lines[1][:40]  # torn mid-write
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines[:1] + [""] + lines[1:]) + "\n")  # a blank line before it: line 3
    with pytest.raises(DataError, match=r"train.jsonl: line 3: invalid JSON at column \d+"):
        load_spec(f"videor1:{path}", video_root=str(tmp_path))
    result = load_spec(f"videor1:{path}", video_root=str(tmp_path), skip_invalid=True)
    assert [r.meta["problem_id"] for r in result.records] == [0, 2]
    assert len(result.skipped) == 1 and (result.skipped[0].index, result.skipped[0].unit) == (3, "line")


def test_utf8_bom_is_stripped(tmp_path, put_video):
    items = _items(tmp_path, put_video, 1)
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(items).encode())
    assert len(load_spec(f"videor1:{path}", video_root=str(tmp_path)).records) == 1
    put_video(tmp_path / "AO8RW.mp4")
    txt = tmp_path / "charades_sta_test.txt"
    txt.write_bytes("\ufeffAO8RW 0.0 6.9##a person opens a book.\n".encode())
    durations = write_json(tmp_path / "durations.json", {"AO8RW": 30.0})
    records = _charades_txt(txt, durations).records
    assert records[0].video == str(tmp_path / "AO8RW.mp4")  # not "\ufeffAO8RW.mp4"


@pytest.mark.parametrize(
    ("durations", "message"),
    [
        ('{"AO8RW": NaN}', "entry 'AO8RW': expected a finite number"),
        ('{"AO8RW": {"duration": -3}}', "entry 'AO8RW': a duration must be positive"),
        ("[30.0]", "expected a JSON object {video id: seconds}, got a list"),
        ('{"AO8RW": 1' + "0" * 5000 + "}", "invalid JSON: Exceeds the limit"),
    ],
)
def test_bad_side_file_durations_name_file_and_entry(tmp_path, put_video, durations, message):
    put_video(tmp_path / "AO8RW.mp4")
    txt = tmp_path / "sta.txt"
    txt.write_text("AO8RW 0.0 6.9##a person opens a book.\n")
    (tmp_path / "d.json").write_text(durations)
    with pytest.raises(DataError) as info:
        _charades_txt(txt, tmp_path / "d.json")
    assert "field 'durations'" in str(info.value) and "d.json" in str(info.value)
    assert message in str(info.value)


def test_5000_digit_and_overflowing_numbers_are_clear_errors(tmp_path, put_video):
    put_video(tmp_path / "videos" / "AAAAA.mp4")
    path = tmp_path / "charades.json"
    path.write_text(
        '{"AAAAA": {"duration": 1' + "0" * 5000 + ', "timestamps": [[0, 1]], "sentences": ["x"]}}'
    )
    with pytest.raises(DataError, match=r"charades.json: invalid JSON: Exceeds the limit \(4300 digits\)"):
        load_spec(f"charades_json:{path}", video_root=str(tmp_path / "videos"))
    path.write_text('{"AAAAA": {"duration": 1e400, "timestamps": [[0, 1]], "sentences": ["x"]}}')
    with pytest.raises(DataError, match=r"record 0: field 'duration': expected a finite number"):
        load_spec(f"charades_json:{path}", video_root=str(tmp_path / "videos"))
    big = "1" + "0" * 400  # a valid JSON integer too large for a float
    path.write_text('{"AAAAA": {"duration": ' + big + ', "timestamps": [[0, 1]], "sentences": ["x"]}}')
    with pytest.raises(DataError, match=r"field 'duration': number out of range"):
        load_spec(f"charades_json:{path}", video_root=str(tmp_path / "videos"))


def test_relative_paths_may_not_leave_the_root_absolute_paths_are_reported(tmp_path, put_video, capsys):
    root = tmp_path / "dataset"
    put_video(root / "videos" / "in.mp4")
    outside = put_video(tmp_path / "elsewhere" / "out.mp4")
    items = [
        videor1_item(0, "videos/in.mp4"),
        videor1_item(1, "../elsewhere/out.mp4"),
        videor1_item(2, str(outside)),  # absolute: allowed
    ]
    path = write_json(root / "train.json", items)
    with pytest.raises(
        DataError, match=r"record 1: field 'path': relative path '../elsewhere/out.mp4' leaves"
    ):
        load_spec(f"videor1:{path}")
    result = load_spec(f"videor1:{path}", skip_invalid=True)
    assert len(result.records) == 2 and result.absolute_paths == [str(outside)]
    assert len(load_spec(f"videor1:{path}", allow_outside_root=True).records) == 3

    assert main(["data", "stats", f"videor1:{path}"]) == 0
    out = capsys.readouterr().out
    assert "leaves the dataset root" in out and "absolute media paths: 1" in out
    assert main(["data", "stats", f"videor1:{path}", "--allow-outside-root"]) == 0
    assert "skipped: 0" in capsys.readouterr().out
