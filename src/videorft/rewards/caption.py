"""Caption event recall (VideoChat-R1 R_cap): share of reference events a judge finds entailed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from videorft.rewards.parsing import extract_answer
from videorft.rewards.registry import register_reward
from videorft.rewards.solutions import as_events

__all__ = ["caption_recall", "caption_judge_inputs", "prefetch_captions"]


def caption_judge_inputs(completion: str, solution: Any) -> tuple[tuple[str, ...], str] | None:
    """``(events, prediction)`` the judge must see, or None when there is no answer to judge.

    Shared by :func:`caption_recall` and batch pre-fetching, so both ask the judge the same thing.
    """
    if not isinstance(completion, str):
        raise TypeError(f"completion must be a str, got {type(completion).__name__}")
    events = as_events(solution)
    prediction = extract_answer(completion)
    if not prediction:
        return None
    return events, prediction


def prefetch_captions(judge: Any, pairs: Iterable[tuple[str, Any]]) -> None:
    """Ask ``judge`` (None: the shared offline one) about every ``(completion, solution)`` caption at once
    (concurrent requests, one embedding pass); the ``caption_recall`` calls that follow hit its cache."""
    items = [(list(i[0]), i[1]) for c, s in pairs if (i := caption_judge_inputs(c, s)) is not None]
    if len(items) > 1:
        if judge is None:
            from videorft.rewards.judges import default_judge

            judge = default_judge()
        if hasattr(judge, "entails_many"):
            judge.entails_many(items)


@register_reward("caption_recall")
def caption_recall(completion: str, solution: Any, *, judge: Any = None, **meta: Any) -> float:
    """Share of reference events the judge says the caption in the last ``<answer>`` entails.

    ``solution`` is ``{"events": [...]}``, a list of events, or a reference caption that is split
    into sentences. ``judge`` has ``entails(events, prediction) -> list[bool]``; None uses the
    shared offline MiniLM judge. No answer block → 0 without asking the judge.
    """
    inputs = caption_judge_inputs(completion, solution)
    if inputs is None:
        return 0.0
    events, prediction = inputs
    if judge is None:
        from videorft.rewards.judges import default_judge

        judge = default_judge()
    verdicts = judge.entails(list(events), prediction)
    if len(verdicts) != len(events):
        raise RuntimeError(f"judge returned {len(verdicts)} verdicts for {len(events)} events")
    return sum(1 for v in verdicts if v is True) / len(events)
