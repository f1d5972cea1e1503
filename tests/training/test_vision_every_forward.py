"""Every forward of a GRPO / T-GRPO step gets each row's own video and 3-D M-RoPE inputs.

Hooks on the policy AND the reference model record every forward (old log-probs with ``num_iterations: 2``,
reference log-probs, the loss) and every ``generate`` call, and compare what arrived, row by row, with what the
row's record encodes to on its own: the row's pixels, ``video_grid_thw``, ``second_per_grid_ts`` and the
``mm_token_type_ids`` that place its video tokens. ``generate`` must also receive the shuffled frames for the
T-GRPO shuffled rows. The last test breaks the trainer on purpose, one field at a time, and checks that the
checker notices: a test that passes on a trainer that drops a field proves nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from videorft.inputs import SampleEncoder, row_record
from videorft.models.loading import load_model, load_processor
from videorft.models.processing import mm_token_type_ids
from videorft.rewards.trl import completion_text
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.grpo_trainer import VideoGRPOTrainer
from videorft.training.run import build_dataset

G = 4
VISION_FIELDS = ("pixel_values_videos", "video_grid_thw", "second_per_grid_ts", "mm_token_type_ids")


def length_reward(prompts, completions, **_):
    return [float(len(completion_text(c))) for c in completions]


def make_trainer(model_dir: Path, suite: Path, out: Path, **overrides) -> VideoGRPOTrainer:
    data_args = VideoDataArguments(
        data=str(suite), tasks=["multiple_choice"], nframes=4, min_pixels=56 * 56, max_pixels=56 * 56
    )
    kw = dict(
        output_dir=str(out),
        use_cpu=True,
        per_device_train_batch_size=2 * G,
        num_generations=G,
        max_completion_length=4,
        max_steps=1,
        num_iterations=2,  # old log-probs are computed (not taken from the current forward)
        beta=0.04,  # a reference model
        learning_rate=1e-3,
        loss_type="grpo",
        report_to="none",
        save_strategy="no",
        seed=0,
        temporal=True,
        shuffled_generations=2,
        **overrides,
    )
    dataset, _ = build_dataset(data_args)
    trainer = VideoGRPOTrainer(
        model=load_model(str(model_dir)),
        args=VideoGRPOConfig(**kw),
        data_args=data_args,
        train_dataset=dataset,
        processing_class=load_processor(str(model_dir)),
    )
    trainer.expected = _expected_inputs(trainer, dataset, data_args)
    return trainer


def _expected_inputs(trainer, dataset, data_args) -> dict[tuple[int, ...], list[dict]]:
    """Prompt token ids -> what each record with that prompt encodes to, on its own (a fresh encoder)."""
    encoder = SampleEncoder.from_data_args(trainer.processing_class, data_args)
    out: dict[tuple[int, ...], list[dict]] = {}
    for row in dataset:
        ids, vision = encoder.encode(row_record(row))
        out.setdefault(tuple(ids), []).append(
            {
                "id": row["id"],
                "pixels": vision.pixel_values_videos,
                "grid": vision.video_grid_thw,
                "seconds": vision.second_per_grid_ts,
            }
        )
    return out


class VisionChecker:
    """Checks every forward / generate call; ``problems`` lists what was missing or wrong, per call kind."""

    def __init__(self, trainer: VideoGRPOTrainer) -> None:
        self.trainer = trainer
        self.tok = trainer.processing_class.tokenizer
        self.seen: dict[str, int] = {}
        self.problems: list[str] = []
        self.shuffled_rows = 0
        self._in_generate = False
        self.handles = [
            trainer.model.register_forward_pre_hook(self._hook("policy"), with_kwargs=True),
            trainer.ref_model.register_forward_pre_hook(self._hook("reference"), with_kwargs=True),
        ]
        model = trainer.model
        original = model.generate

        def generate(*args, **kwargs):
            self._check("generate", kwargs, generation=True)
            self._in_generate = True
            try:
                return original(*args, **kwargs)
            finally:
                self._in_generate = False

        model.generate = generate

    def _hook(self, which: str):
        def hook(module, args, kwargs):
            if self._in_generate:
                return  # checked at the generate call (decode steps carry no pixels: the cache has them)
            if which == "reference":
                kind = "reference"
            else:
                kind = "loss" if torch.is_grad_enabled() else "old_logps"
            self._check(kind, kwargs)

        return hook

    def _check(self, kind: str, kw: dict, generation: bool = False) -> None:
        self.seen[kind] = self.seen.get(kind, 0) + 1
        missing = [f for f in VISION_FIELDS if kw.get(f) is None]
        if missing:
            self.problems.append(f"{kind}: no {', '.join(missing)}")
            return
        ids, mask = kw["input_ids"], kw["attention_mask"]
        grids, seconds = kw["video_grid_thw"], kw["second_per_grid_ts"].reshape(-1)
        if grids.size(0) != ids.size(0) or seconds.numel() != ids.size(0):
            self.problems.append(
                f"{kind}: {grids.size(0)} videos / {seconds.numel()} times for {ids.size(0)} rows"
            )
            return
        if not torch.equal(kw["mm_token_type_ids"].to(ids.device), mm_token_type_ids(ids, self.tok)):
            self.problems.append(f"{kind}: mm_token_type_ids do not mark the video tokens")
        chunks = kw["pixel_values_videos"].split(grids.prod(dim=-1).tolist())
        for i in range(ids.size(0)):
            prompt = ids[i][mask[i].bool()].tolist()
            candidates = next(
                (v for k, v in self.trainer.expected.items() if tuple(prompt[: len(k)]) == k), None
            )
            if candidates is None:
                self.problems.append(f"{kind}: row {i} has a prompt no record has")
                continue
            own = [c for c in candidates if torch.equal(c["grid"][0], grids[i])]
            if not own or not any(torch.allclose(c["seconds"], seconds[i : i + 1].float()) for c in own):
                self.problems.append(f"{kind}: row {i}: grid / second_per_grid_ts are not the row's own")
                continue
            if any(torch.equal(c["pixels"], chunks[i]) for c in own):
                continue
            if generation and any(self._is_block_shuffle(c["pixels"], chunks[i], c["grid"][0]) for c in own):
                self.shuffled_rows += 1  # T-GRPO: the row's own frames, temporal patches permuted
                continue
            self.problems.append(f"{kind}: row {i} did not get its own video")

    @staticmethod
    def _is_block_shuffle(expected: torch.Tensor, got: torch.Tensor, grid: torch.Tensor) -> bool:
        t = int(grid[0])
        a, b = expected.reshape(t, -1), got.reshape(t, -1)  # one row per temporal patch
        order = [next((j for j in range(t) if torch.equal(b[i], a[j])), -1) for i in range(t)]
        return sorted(order) == list(range(t)) and order != list(range(t))

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def _train_and_check(trainer: VideoGRPOTrainer, *, broken: bool = False) -> VisionChecker:
    checker = VisionChecker(trainer)
    try:
        trainer.train()
    except Exception:  # a broken trainer may also crash later in the model: the checker spoke first
        if not broken:
            raise
    finally:
        checker.close()
    return checker


def test_every_forward_of_policy_and_reference_gets_the_rows_own_video(
    tiny_model_dir, synth_suite_dir, tmp_path
):
    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path)
    checker = _train_and_check(trainer)
    assert checker.problems == []
    assert set(checker.seen) == {"generate", "old_logps", "reference", "loss"}, checker.seen
    # 2 prompt groups x shuffled_generations 2 = 4 shuffled rows rode in the generate call
    assert checker.shuffled_rows == 4


def _drop(field: str):
    """A trainer whose log-prob forwards lose ``field`` (as TRL 1.16's own forwards do)."""
    from videorft import inputs

    collate = inputs.RowVision.collate

    def collate_without(rows, device=None):
        out = collate(rows, device)
        out.pop(field, None)
        return out

    return collate_without


@pytest.mark.parametrize(
    "broken",
    ["pixel_values_videos", "second_per_grid_ts", "mm_token_type_ids", "rows_swapped", "generate_unshuffled"],
)
def test_the_checker_fails_on_a_trainer_that_drops_a_field(
    tiny_model_dir, synth_suite_dir, tmp_path, monkeypatch, broken
):
    from videorft import inputs
    from videorft.training import grpo_trainer

    trainer = make_trainer(tiny_model_dir, synth_suite_dir, tmp_path)
    if broken in ("pixel_values_videos", "second_per_grid_ts"):
        monkeypatch.setattr(inputs.RowVision, "collate", staticmethod(_drop(broken)))
    elif broken == "mm_token_type_ids":
        monkeypatch.setattr(grpo_trainer, "mm_token_type_ids", lambda ids, tok: torch.zeros_like(ids))
    elif broken == "rows_swapped":  # every forward gets the batch's videos in the wrong row order
        original = trainer._get_per_token_logps_and_entropies

        def swapped(model, input_ids, *a, **k):
            trainer._forward_vision = list(reversed(trainer._forward_vision))
            try:
                return original(model, input_ids, *a, **k)
            finally:
                trainer._forward_vision = list(reversed(trainer._forward_vision))

        trainer._get_per_token_logps_and_entropies = swapped
    else:  # the shuffled prompts are generated from the ordered frames
        monkeypatch.setattr(inputs, "permute_frames", lambda frames, rng, unit: frames)
    checker = _train_and_check(trainer, broken=True)
    if broken == "generate_unshuffled":
        assert checker.shuffled_rows == 0  # what the passing test asserts to be 4
    else:
        assert checker.problems, f"a trainer without {broken} went unnoticed"
