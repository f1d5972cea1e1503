"""Loaders on fixtures written in the real annotation formats, good and malformed."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fixtures_helpers import (
    videor1_item,
    write_corrupt,
    write_got_sequence,
    write_image,
    write_json,
)

from videorft.data.errors import DataError
from videorft.data.loaders import (
    decode_solution,
    get_format,
    list_formats,
    load_file,
    load_records,
    load_spec,
    record_from_row,
    to_hf_dataset,
)
from videorft.data.record import TASKS

# ---------------------------------------------------------------------------------------------
# Video-R1


def _videor1_file(tmp_path: Path, put_video) -> Path:
    put_video(tmp_path / "videos" / "LLaVA-Video-178K" / "clip1.mp4")
    write_image(tmp_path / "videos" / "CLEVR" / "img1.png")
    items = [
        videor1_item(1, "./LLaVA-Video-178K/clip1.mp4"),
        videor1_item(
            2,
            "./CLEVR/img1.png",
            "numerical",
            data_type="image",
            problem="How many cubes?",
            solution="<answer>3.50</answer>",
        ),
        videor1_item(
            3,
            "./LLaVA-Video-178K/clip1.mp4",
            "OCR",
            problem="What is written?",
            solution="<answer>STOP here</answer>",
        ),
        videor1_item(
            4, "./LLaVA-Video-178K/clip1.mp4", "free-form", solution="<answer> a man runs </answer>"
        ),
        videor1_item(5, "./LLaVA-Video-178K/clip1.mp4", "regression", solution="<answer>1,200.5</answer>"),
        videor1_item(6, "./LLaVA-Video-178K/clip1.mp4", process="<think>first the blue one</think>"),
    ]
    return write_json(tmp_path / "Video-R1-260k.json", items)


def test_videor1_loads_every_problem_type_in_canonical_form(tmp_path, put_video):
    ann = _videor1_file(tmp_path, put_video)
    result = load_spec(f"videor1:{ann}", video_root=str(tmp_path / "videos"))
    recs = {r.meta["problem_id"]: r for r in result.records}
    assert [recs[i].task for i in range(1, 7)] == [
        "multiple_choice",
        "numerical",
        "ocr",
        "free_form",
        "regression",
        "multiple_choice",
    ]
    assert recs[1].solution == "B" and recs[1].options[1] == "B. a blue circle"
    assert recs[2].solution == "3.50"  # numerical stays a string: the reward looks at the decimals
    assert recs[3].solution == "STOP here" and recs[3].meta["problem_type"] == "OCR"
    assert recs[4].solution == "a man runs"
    assert recs[5].solution == "1,200.5"
    assert recs[6].meta["process"] == "<think>first the blue one</think>"
    assert "process" not in recs[1].meta
    # Paths resolve against the video root; images go to Record.image.
    assert (
        recs[1].video == str(tmp_path / "videos" / "LLaVA-Video-178K" / "clip1.mp4") and recs[1].image is None
    )
    assert recs[2].image == str(tmp_path / "videos" / "CLEVR" / "img1.png") and recs[2].video is None
    assert recs[1].meta["data_source"] == "LLaVA-Video-178K"
    assert recs[1].meta["source_index"] == 0 and recs[1].meta["source_file"] == str(ann)
    assert len({r.id for r in result.records}) == 6 and result.skipped == []


def test_videor1_default_video_root_is_the_annotation_folder(tmp_path, put_video):
    put_video(tmp_path / "MVBench" / "a.mp4")
    ann = write_json(tmp_path / "eval_mvbench.json", [videor1_item(1, "./MVBench/a.mp4")])
    (rec,) = load_records(f"videor1:{ann}")
    assert rec.video == str(tmp_path / "MVBench" / "a.mp4")


@pytest.mark.parametrize(
    ("override", "field", "needle"),
    [
        ({"problem": None}, "problem", "missing"),
        ({"problem_type": "essay"}, "problem_type", "multiple choice"),
        ({"data_type": "audio"}, "data_type", "'image' or 'video'"),
        ({"solution": "<answer>F</answer>"}, "solution", "not one of the 4 options"),
        ({"solution": "<answer>B or C</answer>"}, "solution", "single option letter"),
        ({"options": []}, "options", "non-empty list"),
        ({"path": ["./v.mp4"]}, "path", "expected a string"),
        ({"path": "./nowhere.mp4"}, "path", "video file not found"),
    ],
)
def test_videor1_bad_record_error_names_file_index_and_field(tmp_path, put_video, override, field, needle):
    put_video(tmp_path / "v.mp4")
    items = [
        videor1_item(1, "./v.mp4"),
        videor1_item(2, "./v.mp4"),
        {**videor1_item(3, "./v.mp4"), **override},
    ]
    if override.get("problem", 1) is None:
        del items[2]["problem"]
    ann = write_json(tmp_path / "train.json", items)
    with pytest.raises(DataError) as exc:
        load_spec(f"videor1:{ann}")
    msg = str(exc.value)
    assert msg.startswith(f"{ann}: record 2: field '{field}': "), msg
    assert needle in msg
    assert (exc.value.index, exc.value.field) == (2, field)


def test_videor1_numerical_solution_must_be_a_number(tmp_path, put_video):
    put_video(tmp_path / "v.mp4")
    ann = write_json(
        tmp_path / "a.json", [videor1_item(1, "./v.mp4", "numerical", solution="<answer>many</answer>")]
    )
    with pytest.raises(DataError, match=r"record 0: field 'solution': expected a number"):
        load_spec(f"videor1:{ann}")


def test_skip_invalid_skips_counts_and_reports(tmp_path, put_video, caplog):
    put_video(tmp_path / "v.mp4")
    items = [videor1_item(i, "./v.mp4") for i in range(5)]
    items[1]["solution"] = "<answer>Z</answer>"
    items[3] = "not an object"
    items[4]["path"] = "./missing.mp4"
    ann = write_json(tmp_path / "a.json", items)
    with caplog.at_level(logging.WARNING, logger="videorft.data"):
        result = load_spec(f"videor1:{ann}", skip_invalid=True)
    assert [r.meta["problem_id"] for r in result.records] == [0, 2]
    assert [(s.index, s.field) for s in result.skipped] == [(1, "solution"), (3, None), (4, "path")]
    assert all(s.file == str(ann) for s in result.skipped)
    summary = result.summary()
    assert "loaded 2 records (multiple_choice=2); skipped 3" in summary
    assert "record 4: field 'path': video file not found" in summary
    assert "skipped 3 invalid item(s)" in caplog.text  # never silent, even if the caller ignores it


# ---------------------------------------------------------------------------------------------
# Videos: missing, corrupt, probing


def test_check_videos_skips_corrupt_and_empty_videos(tmp_path, put_video):
    put_video(tmp_path / "good.mp4")
    write_corrupt(tmp_path / "bad.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    items = [
        {
            "video": "good.mp4",
            "instruction": "Quality? Choose 'low quality' or 'high quality'.",
            "answer": "low quality",
        },
        {"video": "bad.mp4", "instruction": "Quality?", "answer": "high quality"},
        {"video": "empty.mp4", "instruction": "Quality?", "answer": "high quality"},
        {"video": "bad.mp4", "instruction": "Again?", "answer": "high quality"},
    ]
    ann = write_json(tmp_path / "Quality_Access_test.json", items)
    # Without probing, existing files pass.
    assert len(load_spec(f"quality_json:{ann}").records) == 4
    result = load_spec(f"quality_json:{ann}", skip_invalid=True, check_videos=True)
    assert [r.video for r in result.records] == [str(tmp_path / "good.mp4")]
    assert [(s.index, s.field) for s in result.skipped] == [(1, "video"), (2, "video"), (3, "video")]
    assert all("unreadable video" in s.reason for s in result.skipped)
    info = result.media[str(tmp_path / "good.mp4")]
    assert (info.nframes, info.fps, info.width) == (8, 4.0, 32)
    with pytest.raises(DataError, match=r"record 1: field 'video': unreadable video"):
        load_spec(f"quality_json:{ann}", check_videos=True)


def test_require_videos_false_loads_annotations_without_videos(tmp_path):
    ann = write_json(
        tmp_path / "q.json", [{"video": "nowhere.mp4", "question": "Quality?", "answer": "high quality"}]
    )
    with pytest.raises(DataError, match="video file not found"):
        load_spec(f"quality_json:{ann}")
    (rec,) = load_records(f"quality_json:{ann}", require_videos=False)
    assert rec.video == str(tmp_path / "nowhere.mp4") and rec.problem == "Quality?"


# ---------------------------------------------------------------------------------------------
# Charades-STA


CHARADES = {
    "3MSZA": {
        "duration": 30.96,
        "timestamps": [[24.3, 30.4], [24.3, 30.4]],
        "sentences": ["person turn a light on.", "person flipped the light switch near the door."],
    },
    "AMT7R": {
        "duration": 30.08,
        "timestamps": [[4.3, 12.5]],
        "sentences": ["a person is putting a picture onto the wall."],
    },
}


def test_charades_json_one_record_per_sentence(tmp_path, put_video):
    for vid in CHARADES:
        put_video(tmp_path / "videos" / f"{vid}.mp4")
    ann = write_json(tmp_path / "charades_test.json", CHARADES)
    recs = load_records(f"charades_json:{ann}", video_root=str(tmp_path / "videos"))
    assert [(r.id, r.solution, r.problem) for r in recs] == [
        ("3MSZA#0", [24.3, 30.4], "person turn a light on."),
        ("3MSZA#1", [24.3, 30.4], "person flipped the light switch near the door."),
        ("AMT7R#0", [4.3, 12.5], "a person is putting a picture onto the wall."),
    ]
    assert all(r.task == "temporal_grounding" for r in recs)
    assert recs[2].meta["duration"] == 30.08 and recs[2].video == str(tmp_path / "videos" / "AMT7R.mp4")
    assert recs[2].meta["source_index"] == 1


@pytest.mark.parametrize(
    ("entry", "field", "needle"),
    [
        ({"duration": 10, "timestamps": [[5.0, 2.0]], "sentences": ["x"]}, "timestamps[0]", "start <= end"),
        (
            {"duration": 10, "timestamps": [[1.0]], "sentences": ["x"]},
            "timestamps[0]",
            "expected [start, end]",
        ),
        ({"duration": 10, "timestamps": {"a": 1}, "sentences": ["x"]}, "timestamps", "non-empty list"),
        ({"duration": 10, "timestamps": [[1, 2], [2, 3]], "sentences": ["x"]}, "sentences", "2 sentences"),
        ({"duration": -1, "timestamps": [[1, 2]], "sentences": ["x"]}, "duration", "positive"),
        ({"timestamps": [[1, 2]], "sentences": ["x"]}, "duration", "missing"),
        ({"duration": 10, "timestamps": [[1, 2]], "sentences": [""]}, "sentences[0]", "non-empty"),
        ({"duration": 10, "timestamps": [[12, 15]], "sentences": ["x"]}, "timestamps[0]", "video's end"),
        ({"duration": 10, "timestamps": [[10, 10]], "sentences": ["x"]}, "timestamps[0]", "video's end"),
    ],
)
def test_charades_json_errors(tmp_path, put_video, entry, field, needle):
    put_video(tmp_path / "AAAAA.mp4")
    put_video(tmp_path / "BBBBB.mp4")
    ann = write_json(tmp_path / "c.json", {"AAAAA": CHARADES["AMT7R"], "BBBBB": entry})
    with pytest.raises(DataError) as exc:
        load_spec(f"charades_json:{ann}")
    assert str(exc.value).startswith(f"{ann}: record 1: field '{field}'") and needle in str(exc.value)
    result = load_spec(f"charades_json:{ann}", skip_invalid=True)
    assert len(result.records) == 1 and len(result.skipped) == 1


def test_charades_json_bad_query_skips_only_that_query(tmp_path, put_video):
    put_video(tmp_path / "AAAAA.mp4")
    entry = {
        "duration": 30.0,
        "timestamps": [[1.0, 2.0], [8.0, 7.0], [3.0, 4.0]],
        "sentences": ["a", "b", "c"],
    }
    ann = write_json(tmp_path / "train.json", {"AAAAA": entry})
    result = load_spec(f"charades_json:{ann}", skip_invalid=True)
    assert [(r.id, r.problem) for r in result.records] == [("AAAAA#0", "a"), ("AAAAA#2", "c")]
    assert [(s.index, s.field) for s in result.skipped] == [(0, "timestamps[1]")]


def test_charades_txt_with_companion_csv_durations(tmp_path, put_video):
    for vid in ("AO8RW", "Y6R7T"):
        put_video(tmp_path / f"{vid}.mp4")
    txt = tmp_path / "charades_sta_test.txt"
    txt.write_text(
        "AO8RW 0.0 6.9##a person is putting a book on a shelf.\n"
        "AO8RW 2.1 8.0##person begins to play on a phone.\n"
        "\n"
        "Y6R7T 12.5 21.0##the person closes the door.\n",
        encoding="utf-8",
    )
    (tmp_path / "Charades_v1_test.csv").write_text(
        "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
        "AO8RW,HR43,Kitchen,6,7,Yes,x,book,y,c001 0.0 6.9,33.67\n"
        "Y6R7T,HR44,Hallway,6,7,Yes,x,door,y,c002 12.5 21.0,30.2\n",
        encoding="utf-8",
    )
    recs = load_records(f"charades_txt:{txt}")
    assert [(r.id, r.solution, r.meta["duration"]) for r in recs] == [
        ("AO8RW#0", [0.0, 6.9], 33.67),
        ("AO8RW#1", [2.1, 8.0], 33.67),
        ("Y6R7T#0", [12.5, 21.0], 30.2),
    ]
    assert recs[1].problem == "person begins to play on a phone."


def test_charades_txt_probes_duration_and_names_bad_lines(tmp_path, put_video):
    put_video(tmp_path / "AO8RW.mp4")
    txt = tmp_path / "sta.txt"
    txt.write_text(
        "AO8RW 0.0 1.5##a person sits.\nAO8RW zero 1.0##bad start\nAO8RW 1 2 no separator\n"
        "AO8RW 2.5 3.0##after the end\n",
        encoding="utf-8",
    )
    result = load_spec(f"charades_txt:{txt}", skip_invalid=True)
    (rec,) = result.records
    assert rec.meta["duration"] == pytest.approx(2.0)  # probed from the 8-frame 4-fps video
    assert [(s.unit, s.index, s.field) for s in result.skipped] == [
        ("line", 2, "start"),
        ("line", 3, None),
        ("line", 4, "timestamps"),  # starts after the 2 s video ends
    ]
    with pytest.raises(DataError, match=r"sta.txt: line 2: field 'start': expected a number"):
        load_spec(f"charades_txt:{txt}")


# ---------------------------------------------------------------------------------------------
# NExT-GQA


NEXTGQA = [
    {
        "id": "2574374895_8",
        "video": "1101/2574374895.mp4",
        "question": "what did the baby do after throwing the green cup away while on the floor near the end",
        "options": [
            "(A) clap proudly",
            "(B) the lady sitting down",
            "(C) lay on floor",
            "(D) just picked it up",
            "(E) crawl",
        ],
        "duration": 30,
        "glue": [[23.0, 27.7]],
        "type": "TN",
        "answer": "(C)",
    },
    {
        "id": "3083302557_3",
        "video": "0067/3083302557.mp4",
        "question": "what did the lady do while turning back",
        "options": [
            "(A) walk away",
            "(B) thumbs up",
            "(C) put down her club",
            "(D) applying cream",
            "(E) dog",
        ],
        "duration": 47,
        "glue": [[10.8, 12.3], [20.0, 22.5]],
        "type": "TC",
        "answer": "(B)",
    },
]


def test_nextgqa_json(tmp_path, put_video):
    for item in NEXTGQA:
        put_video(tmp_path / item["video"])
    ann = write_json(tmp_path / "nextgqa_test.json", NEXTGQA)
    recs = load_records(f"nextgqa_json:{ann}")
    assert [r.solution for r in recs] == [
        {"answer": "C", "intervals": [[23.0, 27.7]]},
        {"answer": "B", "intervals": [[10.8, 12.3], [20.0, 22.5]]},
    ]
    assert recs[0].options == [
        "A. clap proudly",
        "B. the lady sitting down",
        "C. lay on floor",
        "D. just picked it up",
        "E. crawl",
    ]
    assert (
        recs[0].task == "grounding_qa" and recs[0].meta["duration"] == 30.0 and recs[0].id == "2574374895_8"
    )
    assert (
        recs[1].video == str(tmp_path / "0067" / "3083302557.mp4") and recs[1].meta["question_type"] == "TC"
    )


def test_slightly_negative_starts_are_clamped(tmp_path, put_video):
    # NExT-GQA's real test set has spans starting at -0.1 / -0.2 s.
    put_video(tmp_path / NEXTGQA[0]["video"])
    ann = write_json(tmp_path / "g.json", [{**NEXTGQA[0], "glue": [[-0.2, 5.5], [7.0, 9.0]]}])
    (rec,) = load_records(f"nextgqa_json:{ann}")
    assert rec.solution["intervals"] == [[0.0, 5.5], [7.0, 9.0]]


@pytest.mark.parametrize(
    ("override", "field", "needle"),
    [
        ({"answer": "(G)"}, "answer", "only 5 options"),
        ({"answer": "a dog"}, "answer", "neither an option letter"),
        ({"glue": [[5, 1]]}, "glue", "start <= end"),
        ({"glue": [[-1.5, 1]]}, "glue", "0 <= start"),
        ({"glue": []}, "glue", "non-empty"),
        ({"options": ["(A) x"]}, "options", "2-7 option"),
        ({"video": "9999/none.mp4"}, "video", "video file not found"),
    ],
)
def test_nextgqa_json_errors(tmp_path, put_video, override, field, needle):
    for item in NEXTGQA:
        put_video(tmp_path / item["video"])
    ann = write_json(tmp_path / "g.json", [NEXTGQA[0], {**NEXTGQA[1], **override}])
    with pytest.raises(DataError) as exc:
        load_spec(f"nextgqa_json:{ann}")
    assert str(exc.value).startswith(f"{ann}: record 1: field '{field}'") and needle in str(exc.value)


def _nextgqa_csv(tmp_path: Path, put_video) -> Path:
    put_video(tmp_path / "videos" / "1101" / "2574374895.mp4")
    put_video(tmp_path / "videos" / "0067" / "3083302557.mp4")
    csv = tmp_path / "test.csv"
    csv.write_text(
        "video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
        "2574374895,900,640,480,what did the baby do after throwing the cup,lay on floor,8,TN,"
        "clap proudly,the lady sitting down,lay on floor,just picked it up,crawl\n"
        "3083302557,1410,640,480,what did the lady do while turning back,thumbs up,3,TC,"
        "walk away,thumbs up,put down her club,applying cream,caressing for the dog\n"
        "3083302557,1410,640,480,how many dogs are there,2,5,DC,1,3,2,4,5\n",
        encoding="utf-8",
    )
    write_json(
        tmp_path / "gsub_test.json",
        {
            "2574374895": {"duration": 30, "location": {"8": [[23.0, 27.7]]}, "fps": 29.97},
            "3083302557": {"duration": 47, "location": {"3": [[10.8, 12.3]], "5": [[1.0, 2.0]]}, "fps": 30},
        },
    )
    write_json(
        tmp_path / "map_vid_vidorID.json", {"2574374895": "1101/2574374895", "3083302557": "0067/3083302557"}
    )
    return csv


def test_nextgqa_csv_with_gsub_and_video_map(tmp_path, put_video):
    csv = _nextgqa_csv(tmp_path, put_video)
    recs = load_records(f"nextgqa_csv:{csv}", video_root=str(tmp_path / "videos"))
    assert [(r.id, r.solution["answer"], r.solution["intervals"]) for r in recs] == [
        ("2574374895_8", "C", [[23.0, 27.7]]),
        ("3083302557_3", "B", [[10.8, 12.3]]),
        ("3083302557_5", "C", [[1.0, 2.0]]),  # the answer text "2" is option C, not index 2
    ]
    assert recs[0].video == str(tmp_path / "videos" / "1101" / "2574374895.mp4")
    assert recs[1].meta["duration"] == 47.0 and recs[0].options[4] == "E. crawl"


def test_nextgqa_csv_missing_span_and_missing_gsub(tmp_path, put_video):
    csv = _nextgqa_csv(tmp_path, put_video)
    write_json(
        tmp_path / "gsub_test.json", {"2574374895": {"duration": 30, "location": {"8": [[23.0, 27.7]]}}}
    )
    result = load_spec(f"nextgqa_csv:{csv}", video_root=str(tmp_path / "videos"), skip_invalid=True)
    assert len(result.records) == 1
    assert [(s.unit, s.index, s.field) for s in result.skipped] == [
        ("line", 3, "video_id"),
        ("line", 4, "video_id"),
    ]
    (tmp_path / "gsub_test.json").unlink()
    with pytest.raises(DataError, match=r"test.csv: field 'gsub': no time-span file"):
        load_spec(f"nextgqa_csv:{csv}")


# ---------------------------------------------------------------------------------------------
# GOT-10k


GOT_BOXES = [[0.093, 0.0, 0.8, 0.797], [0.095, 0.0, 0.8, 0.79]] + [[0.1, 0.1, 0.7, 0.9]] * 6


def test_got10k_json_with_videochat_gt_key_and_foreign_absolute_paths(tmp_path):
    write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000010", [(1, 1, 10, 10)] * 3)
    items = [
        {
            "path": "/mnt/petrelfs/share/GOT-10k/val/GOT-10k_Val_000010",  # from another machine
            "object": "sloth",
            "gt": GOT_BOXES,
        }
    ]
    ann = write_json(tmp_path / "got_val.json", items)
    (rec,) = load_records(f"got10k_json:{ann}", video_root=str(tmp_path / "val"))
    assert rec.task == "tracking" and rec.problem == "sloth" and rec.solution == GOT_BOXES
    assert (
        rec.meta["first_box"] == GOT_BOXES[0] and rec.meta["nframes"] == 8 and rec.meta["object"] == "sloth"
    )
    assert rec.video == str(tmp_path / "val" / "GOT-10k_Val_000010")


@pytest.mark.parametrize(
    ("override", "field", "needle"),
    [
        ({"boxes": [[0.1, 0.1, 1.2, 0.5]]}, "boxes", "normalised box"),
        ({"boxes": [[0.5, 0.1, 0.2, 0.5]]}, "boxes", "x0 <= x1"),
        ({"boxes": [[0.1, 0.1, 0.2]]}, "boxes", "expected a box"),
        ({"boxes": GOT_BOXES, "nframes": 7}, "nframes", "expected 8"),
        ({"object": ""}, "object", "must not be empty"),
    ],
)
def test_got10k_json_errors(tmp_path, put_video, override, field, needle):
    put_video(tmp_path / "seq.mp4")
    good = {"path": "seq.mp4", "object": "car", "boxes": GOT_BOXES}
    ann = write_json(tmp_path / "g.json", [good, {**good, **override}])
    with pytest.raises(DataError) as exc:
        load_spec(f"got10k_json:{ann}")
    assert str(exc.value).startswith(f"{ann}: record 1: field '{field}'") and needle in str(exc.value)


def test_got10k_dir_converts_pixel_boxes_at_evenly_spaced_frames(tmp_path):
    # 64x48 frames; box i is (x=2i, y=12, w=32, h=24) pixels.
    boxes = [(2.0 * i, 12.0, 32.0, 24.0) for i in range(10)]
    write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000001", boxes, size=(64, 48), object_class="sloth")
    write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000002", boxes[:5], size=(64, 48), object_class=None)
    (tmp_path / "val" / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    result = load_file("got10k_dir", tmp_path / "val", nframes=4)
    a, b = result.records
    assert a.meta["frame_indices"] == [0, 3, 6, 9]
    # frame 3: x0 = 6/64, y0 = 12/48, x1 = 38/64, y1 = 36/48
    assert a.solution[1] == [round(6 / 64, 4), 0.25, round(38 / 64, 4), 0.75]
    assert a.solution[0] == [0.0, 0.25, 0.5, 0.75] and a.meta["first_box"] == a.solution[0]
    assert (
        a.problem == "sloth"
        and a.meta["nframes"] == 4
        and a.meta["fps"] == 10.0
        and a.meta["duration"] == 1.0
    )
    assert b.meta["frame_indices"] == [0, 1, 3, 4] and b.problem == "target object"  # no meta_info.ini
    assert a.video == str(tmp_path / "val" / "GOT-10k_Val_000001")


def test_got10k_dir_errors(tmp_path):
    seq = write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000001", [(1, 1, 10, 10)] * 6)
    write_got_sequence(tmp_path / "val" / "GOT-10k_Val_000002", [(1, 1, 10, 10)] * 10)
    (tmp_path / "val" / "GOT-10k_Val_000002" / "groundtruth.txt").write_text(
        "1,1,10,10\n"
    )  # test-split style
    result = load_file("got10k_dir", tmp_path / "val", nframes=4, skip_invalid=True)
    assert [r.id for r in result.records] == ["GOT-10k_Val_000001"]
    assert [(s.index, s.field) for s in result.skipped] == [(1, "groundtruth.txt")]
    assert "1 boxes for 10 frames" in result.skipped[0].reason
    (seq / "groundtruth.txt").write_text("1,1,10,10\n" * 5 + "1,1,-3,10\n")
    with pytest.raises(DataError, match=r"record 0: field 'groundtruth.txt line 6': negative width"):
        load_file("got10k_dir", seq, nframes=4)
    (seq / "groundtruth.txt").write_text("1,1,10,10\n" * 6)
    with pytest.raises(DataError, match=r"fewer than nframes=8"):
        load_file("got10k_dir", tmp_path / "val" / "GOT-10k_Val_000001", nframes=8)
    with pytest.raises(DataError, match=r"field 'nframes': expected an even integer >= 2 .*got 5"):
        load_file("got10k_dir", seq, nframes=5)


@pytest.mark.parametrize("nframes", [4, 6])
def test_got10k_dir_boxes_are_on_the_frames_the_model_sees(tmp_path, nframes):
    """The video loader picks the frames of a frame folder for ``meta['nframes']``; each box must describe the
    frame at the same position (an odd count was rounded to even by the loader, not by the boxes: refused)."""
    from videorft.video import FrameBudget, load_video, record_budget

    seq = write_got_sequence(
        tmp_path / "GOT-10k_Val_000001", [(float(i), 1.0, 10.0, 10.0) for i in range(23)]
    )
    (rec,) = load_file("got10k_dir", seq, nframes=nframes).records
    seen = load_video(rec.video, record_budget(rec, FrameBudget())).indices
    assert list(seen) == rec.meta["frame_indices"] and len(rec.solution) == nframes
    assert [round(b[0] * 64) for b in rec.solution] == list(seen)  # box i's x is its frame's index


def test_got10k_dir_and_the_video_reader_count_the_same_frame_files(tmp_path):
    """A frame in another image format (.gif) is a frame to both, so box i stays on the frame the model sees."""
    from videorft.video import FrameBudget, load_video, record_budget

    seq = write_got_sequence(tmp_path / "seq", [(float(i), 1.0, 10.0, 10.0) for i in range(7)])
    (seq / "00000007.jpg").rename(seq / "00000007.gif")
    (rec,) = load_file("got10k_dir", seq, nframes=4).records
    seen = load_video(rec.video, record_budget(rec, FrameBudget())).indices
    assert list(seen) == rec.meta["frame_indices"] == [0, 2, 4, 6]


def test_got10k_json_refuses_an_odd_number_of_boxes(tmp_path, put_video):
    put_video(tmp_path / "seq.mp4")
    good = {"path": "seq.mp4", "object": "car", "boxes": GOT_BOXES}
    ann = write_json(tmp_path / "g.json", [good, {**good, "boxes": GOT_BOXES[:7]}])
    result = load_spec(f"got10k_json:{ann}", skip_invalid=True)
    assert len(result.records) == 1
    assert [(s.index, s.field) for s in result.skipped] == [(1, "boxes")]
    assert "even number of boxes" in result.skipped[0].reason


# ---------------------------------------------------------------------------------------------
# Quality, caption


def test_quality_and_caption(tmp_path, put_video):
    put_video(tmp_path / "0012.mp4")
    q = write_json(
        tmp_path / "quality.json",
        [
            {
                "video": "0012.mp4",
                "instruction": "How about the quality of the video? Choice one answer from ['low quality', 'high quality'].",
                "answer": "low quality",
            }
        ],
    )
    (rq,) = load_records(f"quality_json:{q}")
    assert (rq.task, rq.solution, rq.id) == ("quality", "low quality", "0012")
    c = write_json(
        tmp_path / "caption.json",
        [
            {"video": "0012.mp4", "duration": 2.0, "events": ["a man enters", "he sits down"]},
            {"video": "0012.mp4", "duration": 2.0, "events": []},
            {"video": "0012.mp4", "events": ["x"]},
        ],
    )
    result = load_spec(f"caption_json:{c}", skip_invalid=True)
    (rc,) = result.records
    assert rc.solution == {"events": ["a man enters", "he sits down"]} and rc.meta["duration"] == 2.0
    assert [(s.index, s.field) for s in result.skipped] == [(1, "events"), (2, "duration")]


# ---------------------------------------------------------------------------------------------
# Files, specs, manifests


def test_file_level_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"video": "a.mp4",}]')
    with pytest.raises(DataError, match=r"bad.json: invalid JSON at line 1 column"):
        load_spec(f"quality_json:{bad}")
    write_json(tmp_path / "dict.json", {"a": 1})
    with pytest.raises(DataError, match=r"dict.json: expected a JSON list of records, got dict"):
        load_spec(f"quality_json:{tmp_path / 'dict.json'}")
    with pytest.raises(DataError, match=r"missing.json: annotation file not found"):
        load_spec(f"charades_json:{tmp_path / 'missing.json'}")


def test_spec_errors_list_the_valid_formats(tmp_path):
    with pytest.raises(ValueError, match=r"unknown data format 'charades'.*charades_json, charades_txt"):
        load_spec(f"charades:{tmp_path}/x.json")
    with pytest.raises(ValueError, match=r"give FORMAT:PATH"):
        load_spec(str(tmp_path / "x.json"))
    with pytest.raises(ValueError, match=r"valid formats: caption_json"):
        get_format("nope")
    assert set(list_formats()) >= {"videor1", "charades_json", "charades_txt", "nextgqa_json", "nextgqa_csv"}
    assert {t for name in list_formats() for t in get_format(name).tasks} <= set(TASKS)


def _manifest_dataset(tmp_path: Path, put_video) -> Path:
    root = tmp_path / "synth"
    for vid in CHARADES:
        put_video(root / "videos" / f"{vid}.mp4")
    put_video(root / "videos" / "r1" / "a.mp4")
    write_json(root / "annotations" / "train" / "charades_sta.json", CHARADES)
    write_json(root / "annotations" / "train" / "video_r1.json", [videor1_item(1, "./videos/r1/a.mp4")])
    write_json(root / "annotations" / "val" / "charades_sta.json", {"AMT7R": CHARADES["AMT7R"]})
    write_got_sequence(root / "got" / "seq1", [(1, 1, 10, 10)] * 7)
    (root / "videorft_data.yaml").write_text(
        "name: synth\n"
        "splits:\n"
        "  train:\n"
        "    - {format: charades_json, path: annotations/train/charades_sta.json, video_root: videos}\n"
        "    - {format: videor1, path: annotations/train/video_r1.json, video_root: .}\n"
        "    - {format: got10k_dir, path: got, nframes: 4}\n"
        "  val:\n"
        "    - {format: charades_json, path: annotations/val/charades_sta.json, video_root: videos}\n",
        encoding="utf-8",
    )
    return root


def test_manifest_splits_and_entry_options(tmp_path, put_video):
    root = _manifest_dataset(tmp_path, put_video)
    everything = load_spec(str(root))
    assert (
        sorted((r.meta["split"], r.task) for r in everything.records).count(("train", "temporal_grounding"))
        == 3
    )
    assert everything.task_counts() == {"multiple_choice": 1, "temporal_grounding": 4, "tracking": 1}
    train = load_spec(str(root / "videorft_data.yaml"), split="train")
    got = next(r for r in train.records if r.task == "tracking")
    assert got.meta["nframes"] == 4 and got.meta["frame_indices"] == [0, 2, 4, 6]
    val = load_records(str(root), split="val")
    assert [r.id for r in val] == ["AMT7R#0"] and val[0].video == str(root / "videos" / "AMT7R.mp4")
    with pytest.raises(DataError, match=r"no split 'test'; splits: train, val"):
        load_spec(str(root), split="test")


def test_manifest_video_root_override_and_errors(tmp_path, put_video):
    root = _manifest_dataset(tmp_path, put_video)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (root / "videos").rename(moved / "videos")
    with pytest.raises(DataError, match="video file not found"):
        load_spec(str(root), split="val")
    (val,) = load_records(str(root), split="val", video_root=str(moved))
    assert val.video == str(moved / "videos" / "AMT7R.mp4")
    manifest = root / "videorft_data.yaml"
    manifest.write_text("splits:\n  train:\n    - {format: charades_jsn, path: a.json}\n")
    with pytest.raises(DataError, match=r"splits.train\[0\].format.*unknown format 'charades_jsn'"):
        load_spec(str(root))
    manifest.write_text("splits:\n  train:\n    - {format: charades_json, path: a.json, nframes: 3}\n")
    with pytest.raises(DataError, match=r"unknown option\(s\) \['nframes'\] for charades_json"):
        load_spec(str(root))
    manifest.write_text("splits: [a, b\n")
    with pytest.raises(DataError, match="invalid YAML"):
        load_spec(str(root))


def test_ids_are_unique_across_duplicates(tmp_path, put_video):
    put_video(tmp_path / "v.mp4")
    ann = write_json(
        tmp_path / "q.json",
        [{"video": "v.mp4", "question": f"q{i}", "answer": "low quality"} for i in range(3)],
    )
    assert [r.id for r in load_records(f"quality_json:{ann}")] == ["v", "v#2", "v#3"]


# ---------------------------------------------------------------------------------------------
# datasets.Dataset


def test_hf_dataset_round_trip_for_every_task(tmp_path, put_video):
    root = _manifest_dataset(tmp_path, put_video)
    for item in NEXTGQA:
        put_video(tmp_path / item["video"])
    recs = load_records(str(root)) + load_records(f"nextgqa_json:{write_json(tmp_path / 'g.json', NEXTGQA)}")
    ds = to_hf_dataset(recs)
    assert ds.column_names == ["id", "task", "problem", "solution", "video", "image", "options", "meta"]
    assert len(ds) == len(recs) == 8
    for row, rec in zip(ds, recs):
        assert decode_solution(row["solution"]) == rec.solution
        assert record_from_row(row) == rec
    assert json.loads(ds[0]["meta"])["duration"] == 30.96
    assert len(to_hf_dataset([])) == 0
