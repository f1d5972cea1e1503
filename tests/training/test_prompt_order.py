"""The answer-balanced prompt order (training/prompt_order.py) and its use by the GRPO trainer."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from trl.trainer.utils import RepeatSampler

from videorft.data.loaders.hf import to_hf_dataset
from videorft.data.record import Record
from videorft.training.cpu_trainer import CPUOptions
from videorft.training.prompt_order import (
    AnswerBalancedSampler,
    dataset_stratum_keys,
    spread_order,
)

from .test_grpo_trainer import first_batch, length_reward, make_trainer


def letters(n_a: int, n_b: int) -> list[tuple[str, str]]:
    return [("mc", "A")] * n_a + [("mc", "B")] * n_b


def test_spread_order_is_a_permutation_with_every_window_in_proportion() -> None:
    keys = letters(52, 48) + [("grounding",)] * 20
    order = spread_order(keys, torch.Generator().manual_seed(3))
    assert sorted(order) == list(range(len(keys)))
    for start in range(0, len(order) - 11, 12):
        window = Counter(keys[i] for i in order[start : start + 12])
        # expected 5.2 A, 4.8 B, 2 grounding in 12: an even spread is off by at most one
        assert 4 <= window[("mc", "A")] <= 6
        assert 4 <= window[("mc", "B")] <= 6
        assert 1 <= window[("grounding",)] <= 3


def test_a_random_shuffle_is_not_in_proportion() -> None:
    # the swings the spread removes: over the same epoch, RepeatSampler's order has batches far from 4 / 4
    keys = letters(400, 400)
    sampler = RepeatSampler(keys, mini_repeat_count=1, batch_size=8, seed=0)
    batches = [list(sampler)[i : i + 8] for i in range(0, 800, 8)]
    assert max(abs(sum(keys[i][1] == "A" for i in b) - 4) for b in batches) >= 3
    spread = AnswerBalancedSampler(keys, keys, mini_repeat_count=1, batch_size=8, seed=0)
    batches = [list(spread)[i : i + 8] for i in range(0, 800, 8)]
    assert {sum(keys[i][1] == "A" for i in b) for b in batches} == {4}


def test_sampler_keeps_the_repeat_sampler_layout_and_is_the_same_on_every_process() -> None:
    keys = letters(11, 9)
    kw = dict(mini_repeat_count=3, batch_size=4, repeat_count=2, seed=7)
    drawn = list(AnswerBalancedSampler(keys, keys, **kw))
    assert drawn == list(AnswerBalancedSampler(keys, keys, **kw))  # same seed, same order (all ranks)
    assert len(drawn) == len(AnswerBalancedSampler(keys, keys, **kw)) == 20 // 4 * 4 * 3 * 2
    block = 4 * 3
    for b in range(0, len(drawn), 2 * block):
        first, second = drawn[b : b + block], drawn[b + block : b + 2 * block]
        assert first == second  # each generation batch repeated repeat_count times
        assert first == [i for i in first[::3] for _ in range(3)]  # each prompt G times in a row
    seen = [i for b in range(0, len(drawn), 2 * block) for i in drawn[b : b + block : 3]]
    assert len(seen) == len(set(seen)) == 20  # one epoch, no prompt twice


def test_sampler_rejects_keys_that_do_not_match_the_rows() -> None:
    with pytest.raises(ValueError, match="3 stratum keys for 4 rows"):
        AnswerBalancedSampler(range(4), letters(2, 1), mini_repeat_count=1)


def test_stratum_keys_of_a_dataset() -> None:
    records = [
        Record(
            id="a", task="multiple_choice", problem="?", solution="B", video="v.mp4", options=["A. x", "B. y"]
        ),
        Record(id="b", task="temporal_grounding", problem="e", solution=[1.0, 2.0], video="v.mp4"),
    ]
    assert dataset_stratum_keys(to_hf_dataset(records)) == [("multiple_choice", "B"), ("temporal_grounding",)]


@pytest.mark.parametrize("balance", [True, False])
def test_trainer_uses_the_balanced_order_when_asked(
    tiny_model_dir, synth_suite_dir, tmp_path, balance
) -> None:
    trainer = make_trainer(
        tiny_model_dir,
        synth_suite_dir,
        tmp_path,
        reward_funcs=[length_reward],
        cpu_options=CPUOptions(balance_answers=balance),
    )
    sampler = trainer._get_train_sampler()
    assert isinstance(sampler, AnswerBalancedSampler) == balance
    rows = first_batch(trainer)  # the dataloader runs through it
    assert len(rows) == trainer.args.generation_batch_size
    if balance:
        solutions = [r["solution"] for r in rows[:: trainer.num_generations]]
        assert len(set(solutions)) == len(solutions)  # 2 prompts of 2 letters: one each
