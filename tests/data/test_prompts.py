"""Prompt templates: every task renders, styles, timing line, user templates, chat messages."""

from __future__ import annotations

import pytest

from videorft.data.prompts import (
    TimingInfo,
    build_conversation,
    list_templates,
    render_prompt,
    task_templates,
)
from videorft.data.record import TASKS, Record

RECORDS = {
    "temporal_grounding": Record(
        "g",
        "temporal_grounding",
        "a person opens the door.",
        [1.0, 2.0],
        video="/v.mp4",
        meta={"duration": 30.0},
    ),
    "tracking": Record(
        "t",
        "tracking",
        "sloth",
        [[0.093, 0.0, 0.8, 0.797]] * 8,
        video="/seq",
        meta={"object": "sloth", "first_box": [0.093, 0.0, 0.8, 0.797], "nframes": 8},
    ),
    "grounding_qa": Record(
        "q",
        "grounding_qa",
        "what did the baby do",
        {"answer": "C", "intervals": [[1.0, 2.0]]},
        video="/v.mp4",
        options=["A. clap", "B. sit", "C. lay on floor"],
    ),
    "multiple_choice": Record(
        "m", "multiple_choice", "Which appears first?", "A", video="/v.mp4", options=["A. red", "B. blue"]
    ),
    "numerical": Record("n", "numerical", "How many cubes?", "3", image="/i.png"),
    "regression": Record("r", "regression", "How far is the chair (m)?", "1.5", video="/v.mp4"),
    "ocr": Record("o", "ocr", "What does the sign say?", "STOP", image="/i.png"),
    "free_form": Record("f", "free_form", "What is the man doing?", "running", video="/v.mp4"),
    "quality": Record(
        "a",
        "quality",
        "How is the quality? Choose 'low quality' or 'high quality'.",
        "low quality",
        video="/v.mp4",
    ),
    "caption": Record("c", "caption", "", {"events": ["a", "b"]}, video="/v.mp4"),
}


def test_every_task_has_a_template_that_renders_both_styles():
    assert set(task_templates()) == set(TASKS)
    assert set(task_templates().values()) <= {f"{n}.jinja" for n in list_templates()}
    for task in TASKS:
        rec = RECORDS[task]
        think = render_prompt(rec)
        plain = render_prompt(rec, style="no_think")
        assert "<answer> </answer>" in think and "<answer> </answer>" in plain, task
        assert "<think> </think>" in think and "<think>" not in plain, task
        assert rec.problem in think and rec.problem in plain, task
        assert "\n\n" not in think and think == think.strip(), task


def test_task_specific_content():
    grounding = render_prompt(RECORDS["temporal_grounding"])
    assert 'the event "a person opens the door."' in grounding and "12.54 to 17.83" in grounding
    tracking = render_prompt(RECORDS["tracking"])
    assert '"sloth"' in tracking and "[0.093, 0.0, 0.8, 0.797]" in tracking and "list of 8 boxes" in tracking
    gqa = render_prompt(RECORDS["grounding_qa"])
    assert "\nA. clap\nB. sit\nC. lay on floor\n" in gqa and "<glue>" in gqa
    mc = render_prompt(RECORDS["multiple_choice"])
    assert mc.startswith("Which appears first?\nOptions:\nA. red\nB. blue\n")
    assert mc.endswith("write only the letter of the chosen option (A, B, C, ...).")
    assert render_prompt(RECORDS["numerical"]).endswith("write only the number (for example 42 or 3.14).")
    assert "Transcribe the text shown in the image" in render_prompt(RECORDS["ocr"])
    assert "Options:" not in render_prompt(RECORDS["free_form"])
    assert "event by event" in render_prompt(RECORDS["caption"])
    # Tracking without meta falls back to the solution for nframes and the first box.
    bare = Record("t2", "tracking", "car", [[0.1, 0.2, 0.3, 0.4]] * 6, video="/seq")
    assert "list of 6 boxes" in render_prompt(bare) and "[0.1, 0.2, 0.3, 0.4]" in render_prompt(bare)


def test_timing_line():
    timing = TimingInfo(duration=12.0, fps=2.0, timestamps=(0.0, 0.5, 1.0, 11.5))
    text = render_prompt(RECORDS["temporal_grounding"], timing=timing)
    assert text.splitlines()[0] == (
        "The video lasts 12.0 seconds, sampled at 2.0 fps; frame timestamps: 0.0s, 0.5s, 1.0s, 11.5s."
    )
    assert "The video lasts" not in render_prompt(RECORDS["temporal_grounding"])
    # A still image has no timing, even if some caller passes one.
    assert "The video lasts" not in render_prompt(RECORDS["ocr"], timing=timing)
    inferred = TimingInfo.from_timestamps([0.0, 1 / 3, 2 / 3], duration=1.0)
    assert inferred.fps == pytest.approx(3.0)
    assert "frame timestamps: 0.0s, 0.33s, 0.67s" in render_prompt(
        RECORDS["multiple_choice"], timing=inferred
    )


def test_named_and_user_templates(tmp_path):
    # A built-in template by name, for a record of another task.
    assert render_prompt(RECORDS["free_form"], template="quality").endswith(
        '"low quality" or "high quality" inside <answer> </answer>.'
    )
    user = tmp_path / "my_prompt.jinja"
    user.write_text(
        '{% include "_timing.jinja" %}\nQ: {{ problem }} ({{ meta.duration }} s){% if think %} think{% endif %}\n'
    )
    text = render_prompt(
        RECORDS["temporal_grounding"], template=str(user), timing=TimingInfo(30.0, 1.0, (0.0,))
    )
    assert (
        text
        == "The video lasts 30.0 seconds, sampled at 1.0 fps; frame timestamps: 0.0s.\nQ: a person opens the door. (30.0 s) think"
    )


def test_template_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown prompt template 'groundin'; built-in: caption, grounding"):
        render_prompt(RECORDS["temporal_grounding"], template="groundin")
    with pytest.raises(FileNotFoundError, match="missing.jinja"):
        render_prompt(RECORDS["temporal_grounding"], template=str(tmp_path / "missing.jinja"))
    with pytest.raises(ValueError, match=r"unknown prompt style 'cot'; valid: think, no_think"):
        render_prompt(RECORDS["temporal_grounding"], style="cot")
    broken = tmp_path / "broken.jinja"
    broken.write_text("line one\n{% if problem %}never closed\n")
    with pytest.raises(ValueError, match=r"broken.jinja: line \d+: template syntax error"):
        render_prompt(RECORDS["temporal_grounding"], template=str(broken))
    undefined = tmp_path / "undefined.jinja"
    undefined.write_text("{{ no_such_variable }}")
    with pytest.raises(ValueError, match=r"undefined.jinja: record 'g': 'no_such_variable' is undefined"):
        render_prompt(RECORDS["temporal_grounding"], template=str(undefined))


def test_build_conversation():
    msgs = build_conversation(RECORDS["temporal_grounding"], "Find it.")
    assert msgs == [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Find it."}]}]
    msgs = build_conversation(RECORDS["ocr"], "Read it.", system="Be brief.", with_path=True)
    assert msgs[0] == {"role": "system", "content": [{"type": "text", "text": "Be brief."}]}
    assert msgs[1]["content"] == [{"type": "image", "image": "/i.png"}, {"type": "text", "text": "Read it."}]
    text_only = Record("x", "free_form", "Why?", "because")
    assert build_conversation(text_only, "Why?")[0]["content"] == [{"type": "text", "text": "Why?"}]


def test_timing_from_a_decoded_clip(tmp_path, put_video):
    from videorft.video import load_video

    clip = load_video(put_video(tmp_path / "v.mp4"))
    timing = TimingInfo.from_clip(clip)
    assert timing.duration == pytest.approx(2.0) and len(timing.timestamps) == len(clip.frames)
    first = render_prompt(RECORDS["temporal_grounding"], timing=timing).splitlines()[0]
    assert first.startswith("The video lasts 2.0 seconds, sampled at ")
    listed = first.split("frame timestamps: ")[1].rstrip(".").split(", ")
    assert all(x.endswith("s") for x in listed)
    assert [float(x[:-1]) for x in listed] == pytest.approx(clip.timestamps, abs=0.005)
