"""Rule rewards of VideoChat-R1 and Video-R1: format, IoUs and answer accuracies.

Each function is ``(completion: str, solution, **meta) -> float`` in [0, 1], registered by name.
They never raise on any completion string; a malformed *solution* raises ``SolutionError``.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any

from videorft.rewards.parsing import (
    extract_letter,
    first_block,
    has_format,
    last_block,
    parse_number,
    parse_number_groups,
    parse_time_pair,
)
from videorft.rewards.registry import register_reward
from videorft.rewards.solutions import (
    Interval,
    SolutionError,
    as_boxes,
    as_gqa,
    as_interval,
    as_letter,
    as_number,
    as_text,
    check_inside_video,
)

#: An <answer> (or <glue>) block longer than this counts as no answer. Real answers are a few
#: hundred characters (completions are capped at 768–2048 tokens); the bound keeps every parser
#: well under a millisecond per completion even on adversarial multi-megabyte strings.
MAX_ANSWER_CHARS = 65_536
#: Answers with more whitespace-separated words than this score 0 on OCR / free-form. Their
#: WER-based reward is already ~0 (WER >= (n - m) / m) and their ROUGE F <= 2m / (n + m) < 0.01
#: for references of m < 20 words, so the cut changes nothing real and bounds the O(n·m) cost.
MAX_ANSWER_WORDS = 4096


#: Values of the ``answer_block`` keyword: which ``<answer>`` / ``<glue>`` block a reward reads when a
#: completion has several. Each reward's default is what its original reads (Video-R1's rewards and
#: VideoChat-R1's grounding-QA and tracking rewards: the first; VideoChat-R1's temporal IoU: the last);
#: ``"last"`` everywhere reads the final answer. Only one block ever counts either way.
ANSWER_BLOCKS = ("first", "last")


def _block(completion: Any, tag: str, which: str = "last") -> str | None:
    """The first or last ``<tag>`` block of a completion, None when absent or longer than MAX_ANSWER_CHARS."""
    if which not in ANSWER_BLOCKS:
        raise ValueError(f"answer_block must be 'first' or 'last', got {which!r}")
    text = _text(completion)
    block = first_block(text, tag) if which == "first" else last_block(text, tag)
    return block if block is not None and len(block) <= MAX_ANSWER_CHARS else None


def _text(completion: Any) -> str:
    if not isinstance(completion, str):
        raise TypeError(f"completion must be a str, got {type(completion).__name__}")
    return completion


# -------------------------------------------------------------------------------------------- format


#: The originals' format check (Video-R1 ``grpo.py``; VideoChat-R1 strips the completion first).
_ORIGINAL_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


@register_reward("format")
def format_reward(
    completion: str, solution: Any = None, *, original_rule: bool = False, **meta: Any
) -> float:
    """1 if the completion is exactly ``<think>…</think>`` then a non-empty ``<answer>…</answer>``.

    ``original_rule=True``: Video-R1's ``re.fullmatch`` instead, which also accepts repeated or
    nested tags (the lazy ``.*?`` spans them) and an empty answer.

    >>> format_reward("<think>look</think> <answer>C</answer>")
    1.0
    >>> format_reward("<think>a</think><answer>C</answer><answer>D</answer>")
    0.0
    """
    if original_rule:
        return 1.0 if _ORIGINAL_FORMAT.fullmatch(_text(completion)) else 0.0
    return 1.0 if has_format(_text(completion), ("think", "answer")) else 0.0


@register_reward("format_nothink")
def format_nothink_reward(completion: str, solution: Any = None, **meta: Any) -> float:
    """1 if the completion is exactly one non-empty ``<answer>…</answer>`` block (no think block)."""
    return 1.0 if has_format(_text(completion), ("answer",)) else 0.0


def _glue_intervals(completion: str, which: str = "last") -> list[Interval] | None:
    """Intervals of the first/last ``<glue>`` block, or None when absent/unparseable/any s > e."""
    glue = _block(completion, "glue", which)
    groups = None if glue is None else parse_number_groups(glue)
    if groups is None or any(len(g) != 2 or not 0 <= g[0] <= g[1] for g in groups):
        return None
    return [(g[0], g[1]) for g in groups]


#: VideoChat-R1's ``format_reward_gqa`` tag regex (applied to the stripped completion).
_ORIGINAL_GLUE_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>\s*<glue>.*?</glue>", re.DOTALL)


@register_reward("format_glue")
def format_glue_reward(
    completion: str, solution: Any = None, *, original_rule: bool = False, **meta: Any
) -> float:
    """Grounding-QA format: think, answer, then ``<glue>[(s, e), …]</glue>`` with >= 1 valid interval.

    ``original_rule=True``: VideoChat-R1's ``format_reward_gqa`` (its tag regex, then its glue regex on
    the first glue block, which also accepts ``[]``).
    """
    text = _text(completion)
    if original_rule:
        if not _ORIGINAL_GLUE_FORMAT.fullmatch(text.strip()):
            return 0.0
        glue = _block(text, "glue", "first")
        return 1.0 if glue is not None and _original_glue_pairs(glue) is not None else 0.0
    if not has_format(text, ("think", "answer", "glue")):
        return 0.0
    return 1.0 if _glue_intervals(text) else 0.0


@register_reward("format_glue_nothink")
def format_glue_nothink_reward(completion: str, solution: Any = None, **meta: Any) -> float:
    """Grounding-QA format without the think block: answer then a valid glue block."""
    text = _text(completion)
    if not has_format(text, ("answer", "glue")):
        return 0.0
    return 1.0 if _glue_intervals(text) else 0.0


def _box_list(answer: str | None) -> list[tuple[float, ...]] | None:
    """The answer's boxes when it is a non-empty list of four-number groups, else None."""
    groups = None if answer is None else parse_number_groups(answer)
    if not groups or any(len(g) != 4 for g in groups):
        return None
    return groups


#: VideoChat-R1's tracking rewards accept exactly this many boxes (its prompt asks for 8).
ORIGINAL_TRACKING_BOXES = 8


def _original_box_list(answer: str | None) -> list[tuple[float, ...]] | None:
    """VideoChat-R1's ``is_valid_list_of_lists``: newlines removed, a list of exactly 8 lists of 4 numbers."""
    if answer is None or "(" in answer or ")" in answer:  # tuples are not lists there
        return None
    groups = parse_number_groups(answer.replace("\n", ""))
    if groups is None or len(groups) != ORIGINAL_TRACKING_BOXES or any(len(g) != 4 for g in groups):
        return None
    return groups


@register_reward("format_tracking")
def format_tracking_reward(
    completion: str, solution: Any = None, *, original_rule: bool = False, **meta: Any
) -> float:
    """Tracking format: think, then an answer that is a non-empty list of ``[x0, y0, x1, y1]`` boxes.

    VideoChat-R1's tracking format reward checks the content too, but demands exactly 8 lists of 4;
    by default the box count is left to the IoU reward, which pairs boxes with the ground truth's.
    ``original_rule=True``: VideoChat-R1's ``tracking_format_reward`` (its tag regex on the stripped
    completion, the first answer block, exactly 8 boxes).
    """
    text = _text(completion)
    if original_rule:
        if not _ORIGINAL_FORMAT.fullmatch(text.strip()):
            return 0.0
        return 1.0 if _original_box_list(_block(text, "answer", "first")) else 0.0
    if not has_format(text, ("think", "answer")):
        return 0.0
    return 1.0 if _box_list(_block(text, "answer")) else 0.0


@register_reward("format_tracking_nothink")
def format_tracking_nothink_reward(
    completion: str, solution: Any = None, *, original_rule: bool = False, **meta: Any
) -> float:
    """Tracking format without the think block: one answer holding a non-empty box list.

    ``original_rule=True``: the answer must hold exactly 8 boxes, as VideoChat-R1's check.
    """
    text = _text(completion)
    if not has_format(text, ("answer",)):
        return 0.0
    answer = _block(text, "answer")
    return 1.0 if (_original_box_list(answer) if original_rule else _box_list(answer)) else 0.0


# ---------------------------------------------------------------------------------------------- IoUs


def interval_iou(a: Interval, b: Interval) -> float:
    """IoU of two [start, end] intervals; two identical points give 1, other empty unions 0."""
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = (a[1] - a[0]) + (b[1] - b[0]) - inter
    if union <= 0:
        return 1.0 if a == b else 0.0
    return inter / union


def _duration(meta: dict[str, Any]) -> float | None:
    d = meta.get("duration")
    if d is None:
        return None
    if isinstance(d, bool) or not isinstance(d, (int, float)) or not math.isfinite(d) or d <= 0:
        raise SolutionError(f"expected a positive number of seconds, got {d!r}", field="duration")
    return float(d)


# VideoChat-R1's ``parse_timestamp_output`` pattern: digits with at most one '.', exactly one space
# around "to"/"and". The look-behind and possessive quantifiers keep the scan linear and change no
# match: a start inside a digit run reaches the same end as the run's first digit, which was tried.
_ORIGINAL_PAIR = re.compile(r"(?<!\d)(\d++\.?+\d*+) (?:to|and) (\d++\.?+\d*+)", re.IGNORECASE)


def _original_time_pair(answer: str) -> tuple[float, float] | None:
    last = None
    for last in _ORIGINAL_PAIR.finditer(answer):  # noqa: B007  (the original takes findall(...)[-1])
        pass
    return None if last is None else (float(last.group(1)), float(last.group(2)))


@register_reward("temporal_iou")
def temporal_iou(
    completion: str,
    solution: Any,
    *,
    clip_to_duration: bool = True,
    original_rule: bool = False,
    answer_block: str = "last",
    **meta: Any,
) -> float:
    """IoU of the last "A to B" pair in the last ``<answer>`` with ``solution`` = [start, end] seconds.

    Swapped (A > B) or unparseable predictions score 0. With a ``duration`` field a ground truth
    that starts at or after the video's end is a ``SolutionError`` (field ``solution``), a
    prediction that starts at or after it scores 0, and both intervals are clipped to
    [0, duration]. ``clip_to_duration=False`` is VideoChat-R1's reward, which never clips nor
    checks the ground truth against the duration. ``original_rule=True`` reads pairs with its
    regex (digits with one '.', one space around "to"/"and") instead of docs/rewards.md's number rule.

    >>> temporal_iou("<think>…</think><answer>10 to 20</answer>", [15, 25])
    0.3333333333333333
    """
    gt = as_interval(solution)
    duration = _duration(meta)
    if clip_to_duration:
        check_inside_video(gt, duration)
    answer = _block(completion, "answer", answer_block)
    if answer is None:
        pair = None
    else:
        pair = _original_time_pair(answer) if original_rule else parse_time_pair(answer)
    if pair is None or pair[0] > pair[1]:
        return 0.0
    if clip_to_duration and duration is not None:
        if pair[0] >= duration:
            return 0.0
        pair = (min(pair[0], duration), min(pair[1], duration))
        gt = (min(gt[0], duration), min(gt[1], duration))
    return interval_iou(pair, gt)


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """IoU of two [x0, y0, x1, y1] boxes after clipping to the unit square; invalid boxes give 0."""
    ax0, ay0, ax1, ay1 = (min(1.0, max(0.0, v)) for v in a)
    bx0, by0, bx1, by1 = (min(1.0, max(0.0, v)) for v in b)
    if ax0 > ax1 or ay0 > ay1 or bx0 > bx1 or by0 > by1:
        return 0.0
    iw = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    ih = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = iw * ih
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union if union > 0 else 0.0


def _original_box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """VideoChat-R1's ``calculate_iou``: no clipping, signed areas, 0 for an empty union."""
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return 0.0 if union == 0 else inter / union


@register_reward("tracking_iou")
def tracking_iou(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """Mean IoU over the ground-truth boxes of the box list in the ``<answer>`` block.

    Box i of the prediction is compared with box i of the truth; missing or malformed boxes count
    0, extra boxes are ignored. The answer must be the list (JSON or Python literal) itself.
    ``original_rule=True``: VideoChat-R1's ``tracking_iou_reward`` (exactly 8 predicted boxes and as
    many as the truth, else 0; boxes neither clipped nor checked).
    """
    gt = as_boxes(solution)
    if original_rule:
        boxes = _original_box_list(_block(_text(completion).replace("\n", ""), "answer", "first"))
        if boxes is None or len(boxes) != len(gt):
            return 0.0
        return sum(_original_box_iou(p, g) for p, g in zip(boxes, gt)) / len(gt)
    answer = _block(completion, "answer", answer_block)
    pred = None if answer is None else parse_number_groups(answer)
    if not pred:
        return 0.0
    total = 0.0
    for p, g in zip(pred, gt):
        if len(p) == 4 and p[0] <= p[2] and p[1] <= p[3]:
            total += box_iou(p, g)
    return total / len(gt)


def merge_intervals(intervals: list[Interval] | tuple[Interval, ...]) -> list[Interval]:
    """Sort and merge overlapping or touching intervals."""
    merged: list[list[float]] = []
    for s, e in sorted(intervals):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def multi_interval_iou(
    pred: list[Interval] | tuple[Interval, ...], gt: list[Interval] | tuple[Interval, ...]
) -> float:
    """IoU of two unions of intervals (each side merged first)."""
    a, b = merge_intervals(pred), merge_intervals(gt)
    inter, union = _intersection_and_union(a, b)
    if union <= 0:
        return 1.0 if a == b and a else 0.0
    return inter / union


def _intersection_and_union(a: list[Interval], b: list[Interval]) -> tuple[float, float]:
    """Total overlap and union length of two merged, sorted interval lists (one sweep)."""
    inter, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        inter += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return inter, sum(e - s for s, e in a) + sum(e - s for s, e in b) - inter


# VideoChat-R1's ``is_valid_two_d_list_format``: a list of "(a, b)" tuples of digits with an optional
# ".digits" (so no "5.", "1_000" or "[[a, b]]"), an optional trailing comma, or "[]".
_ORIGINAL_GLUE_NUMBER = r"\d++(?:\.\d++)?+"
_ORIGINAL_GLUE_PAIR = rf"\(({_ORIGINAL_GLUE_NUMBER}),\s*+({_ORIGINAL_GLUE_NUMBER})\)"
_ORIGINAL_GLUE = re.compile(rf"\[(?:{_ORIGINAL_GLUE_PAIR}(?:,\s*+{_ORIGINAL_GLUE_PAIR})*+,?+)?+\]\n?+")
_ORIGINAL_GLUE_PAIRS = re.compile(_ORIGINAL_GLUE_PAIR)


def _original_glue_pairs(glue: str) -> list[Interval] | None:
    """VideoChat-R1's ``is_valid_two_d_list_format``: the intervals, or None (also when any s > e)."""
    if _ORIGINAL_GLUE.fullmatch(glue) is None:
        return None
    pred = [(float(a), float(b)) for a, b in _ORIGINAL_GLUE_PAIRS.findall(glue)]
    return None if any(s > e for s, e in pred) else pred


def _original_glue_iou(glue: str | None, gt: list[Interval] | tuple[Interval, ...]) -> float:
    """VideoChat-R1's ``iou_glue_reward`` on one glue block: any empty union counts 1."""
    pred = None if glue is None else _original_glue_pairs(glue)
    if pred is None:
        return 0.0
    inter, union = _intersection_and_union(merge_intervals(pred), merge_intervals(gt))
    return 1.0 if union == 0 else inter / union


@register_reward("gqa_iou")
def gqa_iou(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """Multi-interval IoU of the ``<glue>`` block against ``solution["intervals"]``.

    ``original_rule=True``: VideoChat-R1's ``iou_glue_reward`` (its list regex: "(a, b)" tuples of
    digits with an optional ".digits"; an empty union, e.g. ``[]`` against point intervals, counts 1).
    """
    _, gt = as_gqa(solution)
    if original_rule:
        return _original_glue_iou(_block(completion, "glue", "first"), gt)
    pred = _glue_intervals(_text(completion), answer_block)
    return multi_interval_iou(pred, gt) if pred else 0.0


# ---------------------------------------------------------------------------------------- accuracies


def _answer(completion: Any, which: str = "last") -> str:
    block = _block(completion, "answer", which)
    return block.strip() if block is not None else ""


def _video_r1_answer(text: Any) -> str:
    """Video-R1's ``extract_answer``: the first ``<answer>`` block, stripped ("" when absent)."""
    m = re.search(r"<answer>\s*(.*?)\s*</answer>", text, re.DOTALL) if isinstance(text, str) else None
    return (
        m.group(1).strip()
        if m
        else ("" if isinstance(text, str) and "<answer>" in text else str(text).strip())
    )


def _video_r1_float(text: str) -> float | None:
    """Video-R1's ``normalize_number``: ``float()`` after removing commas (nan, inf accepted)."""
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return None


@register_reward("mc_accuracy")
def mc_accuracy(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """1 if the option letter in the (first) ``<answer>`` block equals the solution's letter.

    ``original_rule=True``: Video-R1's exact string comparison of the first answer block.

    >>> mc_accuracy("<think>…</think><answer>The answer is (C).</answer>", "<answer>C</answer>")
    1.0
    """
    if original_rule:
        return 1.0 if _video_r1_answer(_text(completion)) == _video_r1_answer(solution) else 0.0
    truth = as_letter(solution)
    return 1.0 if extract_letter(_answer(completion, answer_block)) == truth else 0.0


# VideoChat-R1's ``answer_reward``: these lead-ins are deleted (the last two are one string there,
# a missing comma), then the first capital A-G anywhere is the answer ("" when none).
_ORIGINAL_LEAD_INS = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option is",
    "The correct option is",
    "Best answer:Best option:",
)
_ORIGINAL_LETTER = re.compile(r"[ABCDEFG]")


def _original_letter(text: str) -> str:
    s = text.strip()
    for lead_in in _ORIGINAL_LEAD_INS:
        s = s.replace(lead_in, "")
    m = _ORIGINAL_LETTER.search(s)
    return m.group(0) if m else ""


@register_reward("gqa_accuracy")
def gqa_accuracy(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """Multiple-choice accuracy against ``solution["answer"]`` of a grounding-QA sample.

    ``original_rule=True``: VideoChat-R1's ``answer_reward`` (the first capital A-G anywhere in the
    first answer block after deleting its lead-ins, so "A dog runs" answers A).
    """
    truth, _ = as_gqa(solution)
    if original_rule:
        answer = _block(completion, "answer", "first")
        return 1.0 if answer is not None and _original_letter(answer) == _original_letter(truth) else 0.0
    return 1.0 if extract_letter(_answer(completion, answer_block)) == truth else 0.0


@register_reward("quality_accuracy")
def quality_accuracy(completion: str, solution: Any, *, answer_block: str = "last", **meta: Any) -> float:
    """Exact match after strip + lowercase ("high quality" / "low quality"); no original reward exists."""
    truth = as_text(solution).lower()
    return 1.0 if _answer(completion, answer_block).lower() == truth else 0.0


@register_reward("numerical_accuracy")
def numerical_accuracy(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """1 if the answer is a number equal to the truth after rounding both to 2 decimals.

    ``original_rule=True``: Video-R1's rule, 0 whenever only one side contains "." or ",", numbers
    read by ``float()`` (so "5." vs "5" and "1,000" vs "1000" score 0).

    >>> numerical_accuracy("<answer>1,000</answer>", "1000.001")
    1.0
    """
    truth = as_number(solution)
    if original_rule:
        out, gt = _video_r1_answer(_text(completion)), _video_r1_answer(solution)
        if (("." in gt) or ("," in gt)) != (("." in out) or ("," in out)):
            return 0.0
        p, g = _video_r1_float(out), _video_r1_float(gt)
        return 1.0 if p is not None and g is not None and round(g, 2) == round(p, 2) else 0.0
    pred = parse_number(_answer(completion, answer_block))
    return 1.0 if pred is not None and round(pred, 2) == round(truth, 2) else 0.0


@register_reward("regression_accuracy")
def regression_accuracy(
    completion: str, solution: Any, *, original_rule: bool = False, answer_block: str = "first", **meta: Any
) -> float:
    """``1 - min(1, |pred - gt| / |gt|)``; an exact answer is 1 also when gt = 0.

    ``original_rule=True``: Video-R1's ``(|p − g| + 1e-9) / (|g| + 1e-9)`` with ``float()`` parsing.

    >>> regression_accuracy("<answer>9</answer>", 10)
    0.9
    """
    truth = as_number(solution)
    if original_rule:
        p, g = (
            _video_r1_float(_video_r1_answer(_text(completion))),
            _video_r1_float(_video_r1_answer(solution)),
        )
        if p is None or g is None or not (math.isfinite(p) and math.isfinite(g)):
            return 0.0
        return 1.0 - min(1.0, max(0.0, (abs(p - g) + 1e-9) / (abs(g) + 1e-9)))
    pred = parse_number(_answer(completion, answer_block))
    if pred is None:
        return 0.0
    if pred == truth:
        return 1.0
    rel = abs(pred - truth) / max(abs(truth), 1e-9)
    return 1.0 - min(1.0, rel)


def _bounded_words(text: str) -> bool:
    return len(text.split(maxsplit=MAX_ANSWER_WORDS)) <= MAX_ANSWER_WORDS


@register_reward("ocr_accuracy")
def ocr_accuracy(completion: str, solution: Any, *, answer_block: str = "first", **meta: Any) -> float:
    """``1 - WER`` (word level, case-sensitive; jiwer), clipped to [0, 1].

    Words are split on any whitespace (newlines, tabs), as Video-R1's ``str.split()`` WER does;
    jiwer's own transform splits on spaces only, so both sides are re-joined with single spaces.
    """
    truth = " ".join(as_text(solution).split())
    pred = " ".join(_answer(completion, answer_block).split())
    if not pred or not _bounded_words(pred):
        return 0.0
    import jiwer

    return max(0.0, min(1.0, 1.0 - jiwer.wer(truth, pred)))


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


@register_reward("free_form_accuracy")
def free_form_accuracy(completion: str, solution: Any, *, answer_block: str = "first", **meta: Any) -> float:
    """Mean of ROUGE-1, ROUGE-2 and ROUGE-L F-measures (Porter stemming; rouge-score), in [0, 1]."""
    truth = as_text(solution)
    pred = _answer(completion, answer_block)
    if not pred or not _bounded_words(pred):
        return 0.0
    scores = _rouge_scorer().score(truth, pred)
    mean = (scores["rouge1"].fmeasure + scores["rouge2"].fmeasure + scores["rougeL"].fmeasure) / 3
    return max(0.0, min(1.0, mean))
