"""Parsers: tag blocks, numbers, time pairs, number groups, option letters."""

from __future__ import annotations

import pytest

from videorft.rewards.parsing import (
    extract_answer,
    extract_letter,
    has_format,
    last_block,
    parse_number,
    parse_number_groups,
    parse_time_pair,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>A</answer>", "A"),
        ("<answer>A</answer> then <answer>B</answer>", "B"),
        ("<answer><answer>A</answer></answer>", "A"),  # innermost: no tags inside the content
        ("<answer>A</answer>B</answer>", "A"),
        ("<answer>A</answer> <answer>B", "A"),  # unterminated last block: last complete one
        ("</answer><answer>", None),
        ("no tags", None),
        ("<answer></answer>", ""),
    ],
)
def test_last_block(text: str, expected: str | None) -> None:
    assert last_block(text, "answer") == expected


def test_extract_answer_strips() -> None:
    assert extract_answer("<think>x</think><answer>\n  12.5 to 17  \n</answer>") == "12.5 to 17"
    assert extract_answer("plain text") is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("<think>reason</think><answer>C</answer>", True),
        ("  <think>reason</think>\n\n<answer>C</answer>\n", True),
        ("<think></think><answer>C</answer>", True),
        ("<think>reason</think><answer> </answer>", False),  # empty answer
        ("<think>a</think><answer>C</answer> trailing", False),
        ("lead <think>a</think><answer>C</answer>", False),
        ("<answer>C</answer><think>a</think>", False),
        ("<think>a</think><answer>C</answer><answer>D</answer>", False),
        ("<think>a <answer>D</answer></think><answer>C</answer>", False),  # tags inside think
        ("<think>a</think><answer><answer>C</answer></answer>", False),
        ("<think>a</think><think>b</think><answer>C</answer>", False),
        ("<think>a</think><answer>C</answer><glue>[(1, 2)]</glue>", False),  # stray glue
    ],
)
def test_has_format_think_answer(text: str, ok: bool) -> None:
    assert has_format(text, ("think", "answer")) is ok


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3", 3.0),
        (" -2.50 ", -2.5),
        ("1,000", 1000.0),
        ("1,234,567.5", 1234567.5),
        (".5", 0.5),
        ("1,5", None),
        ("1,0000", None),
        ("12 apples", None),
        ("nan", None),
        ("inf", None),
        ("9" * 400, None),  # overflows a float
        ("", None),
        ("1e3", 1000.0),  # Python float syntax, as Video-R1's float()
        ("5.", 5.0),
        ("1_000", 1000.0),
        ("1__000", None),
        ("1_", None),
    ],
)
def test_parse_number(text: str, expected: float | None) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.54 to 17.83", (12.54, 17.83)),
        ("The event happens between 3 and 9 seconds", (3.0, 9.0)),
        ("0 to 5, then 6 to 10", (6.0, 10.0)),  # the last pair
        ("from 12.5s to 17.3s", (12.5, 17.3)),
        ("from 10 seconds to 20 seconds", (10.0, 20.0)),
        ("1 to 2 to 3", (1.0, 2.0)),  # non-overlapping matches, the last: VideoChat-R1's findall
        ("1 to 2 to 3 to 4", (3.0, 4.0)),
        ("[1, 2] and later 5 to 6", (5.0, 6.0)),
        ("5 to 6, or rather [7, 8]", (7.0, 8.0)),
        ("[4.2, 8.0]", (4.2, 8.0)),
        ("(4, 8)", (4.0, 8.0)),
        ("4, 8", None),  # a comma pair needs brackets
        ("20 to 10", (20.0, 10.0)),  # returned as written; the reward rejects swaps
        ("twelve to seventeen", None),
        ("12.5", None),
        ("1" * 400 + " to 500", None),  # non-finite
        ("5. to 10.", (5.0, 10.0)),  # trailing-dot numbers, as in numerical answers
        ("1_000 to 1_200", (1000.0, 1200.0)),
        ("1,000 to 1,200", (1000.0, 1200.0)),  # outside brackets a comma is a thousands separator
        ("[1,200]", (1.0, 200.0)),  # inside brackets it separates
        ("1e2 to 2e2", (100.0, 200.0)),
    ],
)
def test_parse_time_pair(text: str, expected: tuple[float, float] | None) -> None:
    assert parse_time_pair(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[(1, 2), (3.5, 4)]", [(1.0, 2.0), (3.5, 4.0)]),
        ("[[0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1],]", [(0.1, 0.2, 0.3, 0.4), (0.0, 0.0, 1.0, 1.0)]),
        ("[0.1, 0.2, 0.3, 0.4]", [(0.1, 0.2, 0.3, 0.4)]),
        ("[]", []),
        ("[(1, 2) (3, 4)]", None),
        ("[(1, 2), 'a']", None),
        ("[(1, nan)]", None),
        ("[(1, 2)", None),
        ("boxes: [(1, 2)]", None),
        ("[[[1, 2]]]", None),
        ("[(5., 1_0)]", [(5.0, 10.0)]),  # the same number rule as parse_number
        ("[(1e1, 2E1)]", [(10.0, 20.0)]),
        ("[(1__0, 2)]", None),
    ],
)
def test_parse_number_groups(text: str, expected: list | None) -> None:
    assert parse_number_groups(text) == expected


def test_parse_number_groups_caps_count() -> None:
    text = "[" + ", ".join("(1, 2)" for _ in range(20)) + "]"
    assert parse_number_groups(text, max_groups=10) is None
    assert len(parse_number_groups(text, max_groups=20)) == 20


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("C", "C"),
        ("(C)", "C"),
        ("[C]", "C"),
        ("C.", "C"),
        ("C. The man opens the door", "C"),
        ("C) the man", "C"),
        ("C: the man", "C"),
        ("**C**", "C"),
        ("The answer is C.", "C"),
        ("The answer is (B)", "B"),
        ("The best answer is: D", "D"),
        ("Answer: E", "E"),
        ("The correct option is F", "F"),
        ("Option G", "G"),
        ("Z", "Z"),
        ("A dog runs", None),  # prose starting with a capital is not a letter answer
        ("c", None),
        ("I think it is C", None),
        ("", None),
    ],
)
def test_extract_letter(text: str, expected: str | None) -> None:
    assert extract_letter(text) == expected


@pytest.mark.parametrize("token", ["5.", "1_000", "1_000.5", ".5", "1e3", "2.5E-2", "-3", "+4."])
def test_one_number_rule_for_every_parser(token: str) -> None:
    """numerical/regression (parse_number), intervals (time pairs) and glue/boxes (groups) agree."""
    value = float(token)
    assert parse_number(token) == value
    if not token.startswith(("-", "+")):  # times are unsigned
        assert parse_time_pair(f"{token} to {token}") == (value, value)
    assert parse_number_groups(f"[({token}, {token})]") == [(value, value)]
