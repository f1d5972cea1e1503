"""``sft_answers``: which SFT targets carry the gold answer and which a random one of the right form.

Its own small module so that the demo's settings can check a spec when they are made without importing TRL.
"""

from __future__ import annotations

from videorft.rewards.tasks import task_names

#: ``sft_answers`` modes, and the tasks whose answers ``random`` can draw (training/sft.py's random_answer)
ANSWER_MODES = ("gold", "random")
RANDOM_ANSWER_TASKS = ("multiple_choice", "temporal_grounding")


def answer_modes(spec: str) -> dict[str, str]:
    """``sft_answers`` -> {task: 'gold' | 'random'}, key ``"*"`` for every task not named.

    ``'gold'`` / ``'random'``: every task; ``'temporal_grounding=gold,multiple_choice=random'``: per task, the
    tasks not named gold (a mixed cold start: format only for the tasks RL should learn from scratch)."""
    if spec.strip() in ANSWER_MODES:
        return {"*": spec.strip()}
    modes = {"*": "gold"}
    for part in spec.split(","):
        task, _, mode = (p.strip() for p in part.partition("="))
        if (
            task not in task_names()
            or mode not in ANSWER_MODES
            or (mode == "random" and task not in RANDOM_ANSWER_TASKS)
        ):
            raise ValueError(
                f"sft_answers={spec!r}: {part.strip()!r} is not TASK=gold or TASK=random with TASK one of "
                f"{', '.join(task_names())} (random: {', '.join(RANDOM_ANSWER_TASKS)}); "
                "or 'gold' / 'random' for every task"
            )
        if task in modes:  # a spec that names a task twice is a typo, not "the last one wins"
            raise ValueError(f"sft_answers={spec!r}: {task!r} is named twice")
        modes[task] = mode
    return modes
