"""GRPO / T-GRPO for video on TRL's GRPOTrainer (written against trl==1.16.0, pinned in pyproject.toml).

TRL 1.16 hands transformers a video *path* (no frame budget), leaves ``pixel_values_videos`` / ``video_grid_thw`` /
``second_per_grid_ts`` / ``mm_token_type_ids`` out of its log-prob forwards (the vision tower got no gradient) and
has no T-GRPO. ``TRL_PRIVATE_METHODS`` names each private TRL method overridden to add that, and why; everything
else (advantages per group, loss variants, KL, LoRA, DeepSpeed, logging, checkpoints) is TRL's. ``use_vllm``
(colocate) generates through ``training/vllm_rollouts.py``, which carries the rows' frames.

Per-row inputs: each generation batch is sampled and encoded once (``videorft.inputs.SampleEncoder``) at the start of
``_generate_and_score_completions``; its vision tensors go out in the batch dict (``row_vision``, a row-aligned list
that TRL shuffles and slices with the tensors), and ``compute_loss`` hands that list to the forward.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather, gather_object
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context

from videorft.data.record import Record
from videorft.files import append_jsonl
from videorft.inputs import SHUFFLE_UNITS, RowVision, Sample, SampleEncoder
from videorft.models.processing import mm_token_type_ids, vision_token_ids
from videorft.rewards.registry import load_function
from videorft.rewards.trl import TaskRewardFunction
from videorft.training.algos import length_bonus, temporal_bonus
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.media_skips import MediaSkips
from videorft.training.output_dir import ResumesModelWeights
from videorft.training.rollout_data import PREPARED, RolloutCollator, worker_train_dataloader
from videorft.training.vision_cache import share_vision_features
from videorft.training.vllm_rollouts import VideoVLLMGeneration, check_vllm_mode

#: Every private method of TRL's GRPOTrainer this trainer and its CPU variant override or call (TRL renames and
#: reshapes them between minor versions; tests/training/test_trl_surface.py checks each on the installed TRL).
#: Private attributes read: ``_tokenizer``, ``_metrics``, ``_entropy_bonus_enabled``, ``_last_loaded_step``,
#: ``_train_batch_size``.
TRL_PRIVATE_METHODS: tuple[str, ...] = (
    "_generate_and_score_completions",  # rows -> samples, encoded once; row_vision into the batch dict
    "_tokenize_prompts",  # the encoded prompt ids (TRL would hand transformers a video path, no frame budget)
    "_generate_single_turn",  # vision tensors into generate(); T-GRPO's shuffled copies in the same call; vLLM
    "_calculate_rewards",  # the temporal / length bonus columns, filled per prompt group
    "_get_per_token_logps_and_entropies",  # each forward chunk gets its rows' vision tensors and M-RoPE inputs
    "_get_train_sampler",  # cpu_trainer: balance_answers' epoch order; rollout_data: the workers' sampler
    "_get_dataloader",  # rollout_data: the data loader whose workers decode and encode generation batches
    "_load_from_checkpoint",  # transformers' Trainer; output_dir.ResumesModelWeights: resume the weights too
)


def _bonus_column(name: str) -> Callable[..., list[float]]:
    """A reward column TRL allocates and logs; ``VideoGRPOTrainer._calculate_rewards`` fills it per prompt group."""

    def zeros(prompts: list, completions: list, **_: Any) -> list[float]:
        return [0.0] * len(completions)

    zeros.__name__ = name
    return zeros


@dataclass
class EncodedRows:
    """Samples, prompt ids and vision tensors of prompt rows, aligned; ``owners``: for T-GRPO's shuffled copies,
    the local ordered row whose group each copy belongs to."""

    samples: list[Sample] = field(default_factory=list)
    ids: list[list[int]] = field(default_factory=list)
    vision: list[RowVision] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)

    def add(self, sample: Sample, ids: list[int], vision: RowVision, owner: int, copies: int) -> None:
        self.samples += [sample] * copies
        self.ids += [ids] * copies
        self.vision += [vision] * copies
        self.owners += [owner] * copies

    def __add__(self, other: EncodedRows) -> EncodedRows:
        return EncodedRows(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(EncodedRows)))


@dataclass
class RolloutBatch:
    """The generation batch in progress: its records, ordered rows and T-GRPO's shuffled copies."""

    records: list[Record]
    ordered: EncodedRows
    shuffled: EncodedRows | None = None
    shuffled_completion_ids: list[list[int]] = field(default_factory=list)


class VideoGRPOTrainer(ResumesModelWeights, GRPOTrainer):
    """TRL's GRPOTrainer with video inputs in every forward pass and Video-R1's T-GRPO; a resumed run starts from
    the checkpoint's weights (``ResumesModelWeights``)."""

    args: VideoGRPOConfig

    def __init__(
        self,
        model: Any,
        args: VideoGRPOConfig,
        data_args: VideoDataArguments,
        train_dataset: Any,
        processing_class: Any,
        reward_funcs: list | None = None,
        **kwargs: Any,
    ) -> None:
        use_vllm = bool(args.use_vllm)
        if use_vllm:
            # TRL 1.16's vLLM path forwards images only: ours (training/vllm_rollouts.py) carries the frames.
            check_vllm_mode(args)
            args.use_vllm = False  # TRL must not start its own engine; ours starts below
        self.task_reward = TaskRewardFunction(
            use_format=data_args.use_format_reward,
            judge=data_args.judge,
            think=data_args.prompt_style == "think",
            reward_options=data_args.reward_options(),
        )
        funcs = reward_funcs or [self.task_reward, *map(load_function, data_args.reward_funcs)]
        given = [f for f in funcs if isinstance(f, TaskRewardFunction)]
        for f in given:
            f.json_solutions = True  # this trainer's rows are `to_hf_dataset` rows: solutions as JSON text
        if given:
            self.task_reward = given[0]  # T-GRPO's accuracy comes from the task reward actually used
        elif args.temporal or args.len_control:
            raise ValueError(
                "temporal=True and len_control=True read each completion's accuracy: include a "
                "videorft.rewards.trl.TaskRewardFunction in reward_funcs (or leave reward_funcs unset)"
            )
        bonuses = {"temporal_bonus": args.temporal, "length_bonus": args.len_control}
        funcs = [*funcs, *(_bonus_column(name) for name, on in bonuses.items() if on)]
        try:
            super().__init__(
                model=model,
                reward_funcs=funcs,
                args=args,
                train_dataset=train_dataset,
                processing_class=processing_class,
                **kwargs,
            )
        finally:
            args.use_vllm = use_vllm
        self.encoder = SampleEncoder.from_data_args(processing_class, data_args)
        self.media_skips = MediaSkips(
            train_dataset, log_dir=args.output_dir, write=self.accelerator.is_main_process
        )
        self.rollout_collator = RolloutCollator(self.encoder, self.media_skips)
        # One sampled vision special token makes the next forward fail (features vs tokens mismatch).
        suppressed = {*(self.generation_config.suppress_tokens or []), *vision_token_ids(self._tokenizer)}
        self.generation_config.suppress_tokens = sorted(suppressed)
        self.generation_kwargs["suppress_tokens"] = self.generation_config.suppress_tokens
        self._rng = np.random.default_rng(args.seed)
        self._batch: RolloutBatch | None = None  # set by _generate_and_score_completions, read by TRL's steps
        self._forward_vision: list[RowVision] | None = None  # rows of the forward in progress (_vision_of)
        self.use_vllm = use_vllm
        if use_vllm:
            self.vllm_generation = VideoVLLMGeneration(trainer=self, budget=self.encoder.budget)
            self._last_loaded_step = -1

    def get_train_dataloader(self) -> Any:
        if self.args.dataloader_num_workers:  # TRL sets 0 for an IterableDataset
            return worker_train_dataloader(self)  # frames decoded and prompts encoded in the workers
        return super().get_train_dataloader()

    # ----------------------------------------------------------------------------------------------- rollout
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = self.rollout_collator(inputs)  # bad media replaced, rows decoded (unless a worker did)
        if self.model.training:
            self._log_rollout_ids(inputs)
        preps = [row[PREPARED] for row in inputs]
        records = [prep.record for prep in preps]
        ordered = EncodedRows()
        for i, prep in enumerate(preps):
            ordered.add(prep.sample, prep.prompt_ids, prep.vision, owner=i, copies=1)
        shuffled = self._encode_shuffled(records) if self._temporal_active() else None
        self._batch = RolloutBatch(records, ordered, shuffled)
        # The prompt TRL logs and hands to reward functions: the one the model got, rendered once.
        inputs = [{**row, "prompt": prep.sample.conversation} for row, prep in zip(inputs, preps)]
        with self._vision_of(ordered.vision):  # TRL's old / reference log-prob forwards of this batch
            output = super()._generate_and_score_completions(inputs)
        output["row_vision"] = ordered.vision
        return output

    def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict[str, Any]]:
        return self._batch.ordered.ids, None, self._generation_fields(self._batch.ordered)

    def _generate_single_turn(
        self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False
    ):
        batch = self._batch
        rows, n = batch.ordered, len(prompt_ids)
        shuffled = bool(batch.shuffled and batch.shuffled.ids)
        if shuffled:  # T-GRPO: the shuffled-frame prompts ride in the same generate call
            rows = batch.ordered + batch.shuffled
            prompt_ids, multimodal_fields = rows.ids, self._generation_fields(rows)
        if self.use_vllm:
            completion_ids, logprobs = self._vllm_generate(prompt_ids, rows.samples)
        else:
            with share_vision_features(self.model, enabled=self.args.share_vision_features):
                completion_ids, logprobs = super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images
                )
        if not shuffled:
            return completion_ids, logprobs
        batch.shuffled_completion_ids = completion_ids[n:]
        return completion_ids[:n], (logprobs[:n] if logprobs is not None else None)

    def _vllm_generate(self, prompt_ids: list[list[int]], samples: list[Sample]):
        if self.state.global_step != self._last_loaded_step:  # TRL's rule: push weights once per step
            with profiling_context(self, "sync_weights"):
                self.vllm_generation.sync_weights()
            self._last_loaded_step = self.state.global_step
        with profiling_context(self, "vLLM.generate"):
            return self.vllm_generation.generate_rows(prompt_ids, samples)

    # ------------------------------------------------------------------------------------------------ reward
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.args.len_control:
            self._fill_length_bonus(rewards_per_func, completion_ids_list)
        if not self._temporal_active() or self._batch.shuffled is None:
            return rewards_per_func
        G, S = self.num_generations, self.args.shuffled_generations
        device = rewards_per_func.device
        # Accuracy of the ordered completions, gathered like the rewards (groups may straddle processes).
        ordered_acc = gather(torch.tensor(self.task_reward.last_accuracy, dtype=torch.float32, device=device))
        # Shuffled accuracies: one row of S per local group start, NaN elsewhere; gathered to global order.
        local = torch.full((len(inputs), S), math.nan, device=device)
        for row, accs in self._score_shuffled().items():
            local[row] = torch.tensor(accs, dtype=torch.float32, device=device)
        shuffled_acc = gather(local).view(-1, G, S)[:, 0]  # (B, S): the group's start row; NaN: no video
        bonus = temporal_bonus(
            ordered_acc,
            shuffled_acc,
            alpha=self.args.temporal_alpha,
            mu=self.args.temporal_mu,
            min_acc=self.args.temporal_min_acc,
        )
        rewards_per_func[:, self.reward_func_names.index("temporal_bonus")] = bonus
        self._log_tgrpo(ordered_acc.view(-1, G), shuffled_acc, bonus.view(-1, G))
        return rewards_per_func

    def _fill_length_bonus(self, rewards_per_func: torch.Tensor, completion_ids_list: list) -> None:
        """Video-R1's length reward per prompt group, in the ``length_bonus`` column (TRL logs its mean)."""
        device = rewards_per_func.device
        accuracy = gather(torch.tensor(self.task_reward.last_accuracy, dtype=torch.float32, device=device))
        lengths = gather(torch.tensor([len(ids) for ids in completion_ids_list], device=device))
        bonus = length_bonus(accuracy, lengths, self.num_generations)
        rewards_per_func[:, self.reward_func_names.index("length_bonus")] = bonus

    def _log_tgrpo(self, ordered_acc: torch.Tensor, shuffled_acc: torch.Tensor, bonus: torch.Tensor) -> None:
        """``tgrpo/*`` over the video groups: ordered_acc, bonus (B, G), shuffled_acc (B, S) (NaN: no video)."""
        video = ~shuffled_acc.isnan().any(dim=1)  # (B,)
        if not video.any():
            return
        metrics = self._metrics["train"]
        metrics["tgrpo/p"].append(ordered_acc[video].mean().item())
        metrics["tgrpo/p_shuffled"].append(shuffled_acc[video].double().mean().item())
        metrics["tgrpo/bonus_group_rate"].append((bonus[video] != 0).any(dim=1).double().mean().item())

    # ------------------------------------------------------------------------------------------- forward pass
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        with self._vision_of(inputs["row_vision"]):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    @contextlib.contextmanager
    def _vision_of(self, rows: list[RowVision]) -> Iterator[None]:
        """The rows whose vision tensors the forwards inside the block get (TRL calls the forward without them)."""
        self._forward_vision = rows
        try:
            yield
        finally:
            self._forward_vision = None

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **image_kwargs,
    ):
        """TRL's chunked log-prob computation, with each chunk's own video/image tensors and M-RoPE inputs.

        ``image_kwargs`` from TRL are unused: this trainer carries vision tensors per row (``row_vision``).
        """
        rows = self._forward_vision
        if rows is None or len(rows) != input_ids.size(0):
            raise RuntimeError("internal: vision tensors are not aligned with the forward batch")
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids = input_ids[start:end]  # (b, P+C)
            mask = attention_mask[start:end]
            model_inputs = {
                "input_ids": ids,
                "attention_mask": mask,
                "mm_token_type_ids": mm_token_type_ids(ids, self._tokenizer),
                **RowVision.collate(rows[start:end], device=ids.device),
            }
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            with (
                self.accelerator.autocast(),
                share_vision_features(model, enabled=self.args.share_vision_features),
            ):
                logps, entropy, outputs = self._completion_logps(model, model_inputs, logits_to_keep)
            all_logps.append(logps)
            if compute_entropy:
                all_entropies.append(entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        aux = torch.stack(all_aux).mean() if compute_aux_loss else None
        return logps, entropies, aux

    # -------------------------------------------------------------------------------------------- helpers
    def _completion_logps(self, model: Any, model_inputs: dict[str, Any], logits_to_keep: int):
        """(log-probs (b, C), entropies (b, >= C) or None, model outputs) of the last C tokens: TRL's fused LM head
        (log-probs in tiles, no full logits), with the labels masked to the completion as TRL does."""
        ids, mask = model_inputs["input_ids"], model_inputs["attention_mask"]
        labels = ids.masked_fill(mask == 0, -100)
        labels[:, :-logits_to_keep] = -100  # only completion tokens are scored
        outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
        return outputs.log_probs[:, -logits_to_keep:], outputs.entropy, outputs

    def _log_rollout_ids(self, inputs: list[dict[str, Any]]) -> None:
        """``rollouts.jsonl``: which records each step trained on (data order survives a resume)."""
        ids = gather_object([row["id"] for row in inputs])
        if self.accelerator.is_main_process:
            append_jsonl(
                Path(self.args.output_dir) / "rollouts.jsonl", [{"step": self.state.global_step, "ids": ids}]
            )

    def _temporal_active(self) -> bool:
        return bool(self.args.temporal) and self.model.training

    def _generation_fields(self, rows: EncodedRows) -> dict[str, Any]:
        out: dict[str, Any] = dict(RowVision.collate(rows.vision))
        # Per-token list: TRL left-pads it like input_ids before generate().
        out["mm_token_type_ids"] = [
            mm_token_type_ids(torch.tensor(x), self._tokenizer).tolist() for x in rows.ids
        ]
        return out

    def _encode_shuffled(self, records: list[Record]) -> EncodedRows:
        """Shuffled-frame prompts for every video group that starts on this process (S copies each)."""
        G, S = self.num_generations, self.args.shuffled_generations
        offset = self.accelerator.process_index * len(records)
        rows = EncodedRows()
        for i, record in enumerate(records):
            if (offset + i) % G == 0 and record.video is not None:
                sample = self.encoder.sample(
                    record, "shuffled", self._rng, SHUFFLE_UNITS[self.args.shuffle_unit]
                )
                rows.add(sample, *self.encoder.tokenize(sample), owner=i, copies=S)
        return rows

    def _score_shuffled(self) -> dict[int, list[float]]:
        """Accuracy of each shuffled completion, grouped by the local row that owns the group."""
        batch = self._batch
        if not batch.shuffled or not batch.shuffled.ids:
            return {}
        texts = self.processing_class.batch_decode(batch.shuffled_completion_ids, skip_special_tokens=True)
        out: dict[int, list[float]] = {}
        for owner, text in zip(batch.shuffled.owners, texts, strict=True):
            record = batch.records[owner]
            acc = self.task_reward.accuracy(record.task, text, record.solution, record.meta)
            out.setdefault(owner, []).append(acc)
        return out
