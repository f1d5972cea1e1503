"""Flag spellings: every command takes ``--max_new_tokens`` as well as ``--max-new-tokens``, and
the frame budget flags have one name everywhere."""

from __future__ import annotations

import argparse

import pytest

from videorft.cli.main import build_parser, dashed_options


def _subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                path = f"{prefix} {name}".strip()
                nested = _subparsers(sub, path)
                out.update(nested or {path: sub})
    return out


COMMANDS = _subparsers(build_parser())
FRAME_FLAGS = {"--nframes", "--fps", "--min-frames", "--max-frames", "--min-pixels", "--max-pixels"}


def _options(sub: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {o: a for a in sub._actions for o in a.option_strings if o.startswith("--")}


def test_underscore_and_dash_spellings_parse_the_same():
    parser = build_parser()
    base = ["eval", "--model", "m", "--data", "d", "--out", "o"]
    dashed = parser.parse_args([*base, "--max-new-tokens", "7", "--max-pixels=3136", "--no-training-config"])
    under = parser.parse_args(
        dashed_options([*base, "--max_new_tokens", "7", "--max_pixels=3136", "--no_training_config"])
    )
    assert vars(dashed) == vars(under)
    assert (under.max_new_tokens, under.max_pixels, under.training_config) == (7, 3136, False)
    # values and everything after `--` are left alone
    assert dashed_options(["--data", "videor1:/a_b.json", "--", "--x_y"]) == [
        "--data",
        "videor1:/a_b.json",
        "--",
        "--x_y",
    ]


REQUIRED = {
    "eval": ["--model", "m", "--data", "d", "--out", "o"],
    "probe": ["--model", "m", "--data", "d", "--out", "o"],
    "data cot": ["--data", "d", "--teacher-url", "http://x", "--teacher-model", "t", "--out", "o.json"],
}


@pytest.mark.parametrize("path", sorted(REQUIRED))
def test_budget_flags_in_underscore_spelling(path):
    parser = build_parser()
    values = ["--nframes", "6", "--fps", "1.5", "--min-frames", "2", "--max-frames", "8"]
    values += ["--min-pixels", "784", "--max-pixels", "3136", "--max-new-tokens", "9"]
    under = ["--" + v[2:].replace("-", "_") if v.startswith("--") else v for v in values]
    assert under[0] == "--nframes" and "--max_new_tokens" in under
    words = path.split()
    dashed = parser.parse_args([*words, *REQUIRED[path], *values])
    assert vars(parser.parse_args(dashed_options([*words, *REQUIRED[path], *under]))) == vars(dashed)
    assert (dashed.nframes, dashed.max_pixels) == (6, 3136)


def test_frame_budget_and_token_flags_are_named_the_same_everywhere():
    with_frames = {p: _options(s) for p, s in COMMANDS.items() if "--max-pixels" in _options(s)}
    assert {"eval", "probe", "data cot"} <= set(with_frames)
    for path, options in with_frames.items():
        assert FRAME_FLAGS <= set(options), f"{path}: lacks {FRAME_FLAGS - set(options)}"
    for path in ("eval", "probe", "data cot"):
        assert "--max-new-tokens" in _options(COMMANDS[path]), path
    assert "--nframes" in _options(COMMANDS["data synth"])
    args = build_parser().parse_args(
        dashed_options(["data", "synth", "--out", "x", "--n", "3", "--nframes", "6"])
    )
    assert args.frames == 6


def test_main_accepts_the_underscore_spelling(capsys):
    from videorft.cli.main import main

    # Parsed (not "unrecognized arguments"): the config check then rejects the value itself.
    assert main(["eval", "--model", "m", "--data", "d", "--out", "o", "--max_new_tokens", "0"]) == 2
    assert "max_new_tokens must be >= 1" in capsys.readouterr().err
