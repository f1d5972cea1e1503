"""GRPO / T-GRPO for video on TRL's GRPOTrainer (written against trl==1.16.0, pinned in pyproject.toml).

What TRL 1.16 lacks for video, and the method that adds it:

1. ``_tokenize_prompts``: frames are sampled by ``videorft.video`` (budgets enforced) and the prompt rendered per
   task, in the data-loader workers or inline (``rollout_data.py``); TRL would hand a video *path* to
   transformers (torchcodec, no budget).
2. ``_get_per_token_logps_and_entropies``: TRL's loss / old / reference forwards pass image tensors but not
   ``pixel_values_videos`` / ``video_grid_thw`` / ``second_per_grid_ts`` / ``mm_token_type_ids``: the vision tower
   got no gradient and log-probs ignored the video. Ours passes them, per row.
3. ``_generate_single_turn``: for T-GRPO the shuffled-frame prompts ride in the same ``generate`` call as the
   ordered ones; only the ordered completions go on to the loss.
4. ``_calculate_rewards``: fills the ``temporal_bonus`` column per prompt group (``algos.temporal_bonus_groups``)
   after the task rewards are gathered across processes.

5. ``use_vllm`` (colocate): rollouts come from ``training/vllm_rollouts.py`` with the rows' frames (TRL's vLLM
   path forwards images only); TRL's importance-sampling correction applies as for text.

Everything else (advantages per group, loss variants, KL, LoRA, DeepSpeed, logging, checkpoints) is TRL's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate.utils import gather, gather_object
from trl import GRPOTrainer
from trl.extras.profiling import profiling_context
from trl.trainer.utils import selective_log_softmax_and_entropy

from videorft.models.processing import mm_token_type_ids, vision_token_ids
from videorft.training.algos import length_bonus_groups, temporal_bonus_groups
from videorft.training.config import VideoDataArguments, VideoGRPOConfig
from videorft.training.media import (
    TEMPORAL_PATCH,
    RowVision,
    SampleEncoder,
    permute_frames,
)
from videorft.training.media_skips import MediaSkips
from videorft.training.prompt_order import AnswerBalancedSampler, dataset_stratum_keys
from videorft.training.rewards import TaskRewardFunction, length_bonus_placeholder, temporal_bonus_placeholder
from videorft.training.rollout_data import PREPARED, RolloutCollator, worker_train_dataloader
from videorft.training.sampling import fast_cpu_sampling, restrict_to_sampler
from videorft.training.vision_cache import maybe_share_vision_features
from videorft.training.vllm_rollouts import (
    RolloutMedia,
    VideoVLLMGeneration,
    check_vllm_mode,
    rollout_media,
)


def freeze_embeddings(model: Any) -> None:
    """No gradient for the input embeddings and the output head (one matrix when tied)."""
    for module in (model.get_input_embeddings(), model.get_output_embeddings()):
        if module is not None:
            module.requires_grad_(False)


class VideoGRPOTrainer(GRPOTrainer):
    """TRL's GRPOTrainer with video inputs in every forward pass and Video-R1's T-GRPO."""

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
        funcs = reward_funcs or [self.task_reward]
        given = [f for f in funcs if isinstance(f, TaskRewardFunction)]
        if given:
            self.task_reward = given[0]  # T-GRPO's accuracy comes from the task reward actually used
        elif args.temporal or args.len_control:
            raise ValueError(
                "temporal=True and len_control=True read each completion's accuracy: include a "
                "videorft.training.rewards.TaskRewardFunction in reward_funcs (or leave reward_funcs unset)"
            )
        if args.temporal:
            funcs = [*funcs, temporal_bonus_placeholder]
        if args.len_control:
            funcs = [*funcs, length_bonus_placeholder]
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
        if args.freeze_embeddings:  # before train() builds the optimizer from the trainable parameters
            freeze_embeddings(self.model)
        self.encoder = SampleEncoder.from_data_args(processing_class, data_args)
        self.media_skips = MediaSkips(
            train_dataset, log_dir=args.output_dir, write=self.accelerator.is_main_process
        )
        self.rollout_collator = RolloutCollator(self.encoder, self.media_skips)
        # One sampled vision special token makes the next forward fail (features vs tokens mismatch).
        suppressed = set(self.generation_config.suppress_tokens or []) | set(
            vision_token_ids(self._tokenizer)
        )
        self.generation_config.suppress_tokens = sorted(suppressed)
        self.generation_kwargs["suppress_tokens"] = self.generation_config.suppress_tokens
        self._rng = np.random.default_rng(args.seed)
        self._rows: list[dict] = []  # the generation batch being processed
        self._row_vision: list[RowVision] = []  # its vision tensors, row-aligned
        self._forward_vision: list[RowVision] | None = None  # rows of the forward pass in progress
        self._shuffled: dict[str, Any] | None = None  # T-GRPO: shuffled prompts awaiting generation/scoring
        self._rollout_media: list[RolloutMedia] = []  # vLLM: the frames/images of the rows being generated
        self.use_vllm = use_vllm
        if use_vllm:
            self.vllm_generation = VideoVLLMGeneration(trainer=self, budget=self.encoder.budget)
            self._last_loaded_step = -1

    def get_train_dataloader(self) -> Any:
        if self.args.dataloader_num_workers:  # TRL sets 0 for an IterableDataset
            return worker_train_dataloader(self)  # frames decoded and prompts encoded in the workers
        return super().get_train_dataloader()

    def _get_train_sampler(self, dataset: Any = None) -> Any:
        sampler = super()._get_train_sampler(dataset)
        if not self.args.balance_answers:
            return sampler
        # TRL's RepeatSampler with only its epoch order changed: its repeats, batch size and seed are kept
        return AnswerBalancedSampler(
            sampler.data_source,
            dataset_stratum_keys(sampler.data_source),
            mini_repeat_count=sampler.mini_repeat_count,
            batch_size=sampler.batch_size,
            repeat_count=sampler.repeat_count,
            seed=sampler.seed,
        )

    # ----------------------------------------------------------------------------------------------- rollout
    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        inputs = self.rollout_collator(inputs)  # bad media replaced, rows decoded (unless a worker did)
        self._rows = inputs
        if self.model.training:
            self._log_rollout_ids(inputs)
        output = super()._generate_and_score_completions(inputs)
        # Row-aligned list: TRL's shuffle/split utilities permute and slice lists with the tensors.
        output["row_vision"] = self._row_vision
        self._forward_vision = None
        return output

    def _tokenize_prompts(self, prompts: list) -> tuple[list[list[int]], None, dict[str, Any]]:
        records, ids, vision = [], [], []
        self._rollout_media = []
        for row in self._rows:
            prep = row[PREPARED]
            record, clip, row_ids, row_vision = prep.record, prep.clip, prep.prompt_ids, prep.vision
            records.append(record)
            ids.append(row_ids)
            vision.append(row_vision)
            if self.use_vllm:
                self._rollout_media.append(rollout_media(record, clip, self.encoder.budget))
        self._row_vision = vision
        self._forward_vision = vision  # old / reference log-probs of this batch are computed next
        self._shuffled = self._prepare_shuffled(records) if self._temporal_active() else None
        return ids, None, self._generation_fields(ids, vision)

    def _generate_single_turn(
        self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False
    ):
        shuffled = bool(self._shuffled and self._shuffled["ids"])
        n = len(prompt_ids)
        if shuffled:  # T-GRPO: the shuffled-frame prompts ride in the same generate call
            prompt_ids = list(prompt_ids) + self._shuffled["ids"]
            multimodal_fields = self._generation_fields(
                prompt_ids, self._row_vision + self._shuffled["vision"]
            )
        if self.use_vllm:
            media = self._rollout_media + (self._shuffled["media"] if shuffled else [])
            completion_ids, logprobs = self._vllm_generate(prompt_ids, media)
        else:
            with (
                maybe_share_vision_features(self.model, self.args.share_vision_features),
                fast_cpu_sampling(),
            ):
                completion_ids, logprobs = super()._generate_single_turn(
                    prompt_ids, images, multimodal_fields, num_generations, has_tool_images
                )
        if not shuffled:
            return completion_ids, logprobs
        self._shuffled["completion_ids"] = completion_ids[n:]
        return completion_ids[:n], (logprobs[:n] if logprobs is not None else None)

    def _vllm_generate(self, prompt_ids: list[list[int]], media: list[RolloutMedia]):
        if self.state.global_step != self._last_loaded_step:  # TRL's rule: push weights once per step
            with profiling_context(self, "sync_weights"):
                self.vllm_generation.sync_weights()
            self._last_loaded_step = self.state.global_step
        with profiling_context(self, "vLLM.generate"):
            return self.vllm_generation.generate_rows(prompt_ids, media)

    # ------------------------------------------------------------------------------------------------ reward
    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        if self.args.len_control:
            self._fill_length_bonus(rewards_per_func, completion_ids_list)
        if not self._temporal_active() or self._shuffled is None:
            return rewards_per_func
        G, S = self.num_generations, self.args.shuffled_generations
        device = rewards_per_func.device
        # Accuracy of the ordered completions, gathered like the rewards (groups may straddle processes).
        ordered_acc = gather(torch.tensor(self.task_reward.last_accuracy, dtype=torch.float32, device=device))
        # Shuffled accuracies: one row of S per local group start, NaN elsewhere; gathered to global order.
        local = torch.full((len(inputs), S), math.nan, device=device)
        for row, accs in self._score_shuffled().items():
            local[row] = torch.tensor(accs, dtype=torch.float32, device=device)
        shuffled_rows = gather(local).view(-1, G, S)[:, 0]  # (B, S): the group's start row
        shuffled_acc = [None if torch.isnan(r).any() else r.tolist() for r in shuffled_rows]
        bonus = temporal_bonus_groups(
            ordered_acc.view(-1, G).cpu(),
            shuffled_acc,
            alpha=self.args.temporal_alpha,
            mu=self.args.temporal_mu,
            min_acc=self.args.temporal_min_acc,
        )
        rewards_per_func[:, self.reward_func_names.index("temporal_bonus")] = bonus.view(-1).to(device)
        self._log_tgrpo(ordered_acc.view(-1, G), shuffled_acc, bonus)
        return rewards_per_func

    def _fill_length_bonus(self, rewards_per_func: torch.Tensor, completion_ids_list: list) -> None:
        """Video-R1's length reward per prompt group, in the ``length_bonus`` column (TRL logs its mean)."""
        device = rewards_per_func.device
        accuracy = gather(torch.tensor(self.task_reward.last_accuracy, dtype=torch.float32, device=device))
        lengths = gather(torch.tensor([len(ids) for ids in completion_ids_list], device=device))
        G = self.num_generations
        bonus = length_bonus_groups(accuracy.view(-1, G).cpu(), lengths.view(-1, G).cpu())
        rewards_per_func[:, self.reward_func_names.index("length_bonus")] = bonus.view(-1).to(device)

    def _log_tgrpo(self, ordered_acc: torch.Tensor, shuffled_acc: list, bonus: torch.Tensor) -> None:
        video_groups = [b for b, s in enumerate(shuffled_acc) if s is not None]
        if not video_groups:
            return
        metrics = self._metrics["train"]
        metrics["tgrpo/p"].append(ordered_acc[video_groups].mean().item())
        metrics["tgrpo/p_shuffled"].append(float(np.mean([np.mean(shuffled_acc[b]) for b in video_groups])))
        metrics["tgrpo/bonus_group_rate"].append(float(np.mean([bool(bonus[b].any()) for b in video_groups])))

    # ------------------------------------------------------------------------------------------- forward pass
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._forward_vision = inputs["row_vision"]
        try:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
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
            if self._use_fused_head(ids):
                labels = ids.masked_fill(mask == 0, -100)
                labels[:, :-logits_to_keep] = -100  # only completion tokens are scored
                with (
                    self.accelerator.autocast(),
                    maybe_share_vision_features(model, self.args.share_vision_features),
                ):
                    outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
                logps, entropy = outputs.log_probs[:, -logits_to_keep:], outputs.entropy
            else:
                # TRL's fused head scores *every* position off-GPU (no Triton): with a 152k vocabulary that is
                # most of the step; sampler_logprobs needs the logits themselves. Completions sit at the end
                # (prompts left-, completions right-padded), so the last C + 1 positions are all the loss needs.
                with (
                    self.accelerator.autocast(),
                    maybe_share_vision_features(model, self.args.share_vision_features),
                ):
                    outputs = model(**model_inputs, logits_to_keep=logits_to_keep + 1)
                logits = outputs.logits[:, :-1]  # (b, C, V): position t predicts completion token t
                temperature = self.temperature
                if self.args.sampler_logprobs:
                    logits = restrict_to_sampler(
                        logits / temperature,
                        ids[:, -logits_to_keep:],
                        top_k=self.top_k,
                        top_p=self.top_p,
                        min_p=self.min_p,
                    )
                    temperature = 1.0
                logps, entropy = selective_log_softmax_and_entropy(
                    logits,
                    ids[:, -logits_to_keep:],
                    # TRL's flag: a fixed entropy_coef or the adaptive one (which starts at 0.0)
                    entropy_requires_grad=bool(getattr(self, "_entropy_bonus_enabled", False)),
                    temperature=temperature,
                )
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
    def _use_fused_head(self, ids: torch.Tensor) -> bool:
        """TRL's fused LM head (log-probs in tiles, no full logits) on GPU, unless sampler_logprobs needs logits."""
        return ids.is_cuda and not self.args.sampler_logprobs

    def _log_rollout_ids(self, inputs: list[dict[str, Any]]) -> None:
        """``rollouts.jsonl``: which records each step trained on (data order survives a resume)."""
        ids = gather_object([row["id"] for row in inputs])
        if self.accelerator.is_main_process:
            path = Path(self.args.output_dir) / "rollouts.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a") as f:
                f.write(json.dumps({"step": self.state.global_step, "ids": ids}) + "\n")

    def _temporal_active(self) -> bool:
        return bool(self.args.temporal) and self.model.training

    def _generation_fields(self, ids: list[list[int]], vision: list[RowVision]) -> dict[str, Any]:
        fields: dict[str, Any] = dict(RowVision.collate(vision))
        # Per-token list: TRL left-pads it like input_ids before generate().
        fields["mm_token_type_ids"] = [
            mm_token_type_ids(torch.tensor(x), self._tokenizer).tolist() for x in ids
        ]
        return fields

    def _prepare_shuffled(self, records: list) -> dict[str, Any]:
        """Shuffled-frame prompts for every video group that starts on this process (S copies each)."""
        G, S = self.num_generations, self.args.shuffled_generations
        unit = TEMPORAL_PATCH if self.args.shuffle_unit == "temporal_patch" else 1
        offset = self.accelerator.process_index * len(records)
        ids, vision, owners, media = [], [], [], []
        for i, record in enumerate(records):
            if (offset + i) % G != 0 or record.video is None:
                continue
            clip = self.encoder.clip(record)
            frames = permute_frames(clip.frames, self._rng, unit)
            row_ids, row_vision = self.encoder.encode(record, frames=frames, clip=clip)
            ids += [row_ids] * S
            vision += [row_vision] * S
            owners += [i] * S
            if self.use_vllm:
                media += [rollout_media(record, clip, self.encoder.budget, frames)] * S
        return {"ids": ids, "vision": vision, "owners": owners, "records": records, "media": media}

    def _score_shuffled(self) -> dict[int, list[float]]:
        """Accuracy of each shuffled completion, grouped by the local row that owns the group."""
        sh = self._shuffled
        if not sh or not sh["ids"]:
            return {}
        texts = self.processing_class.batch_decode(sh["completion_ids"], skip_special_tokens=True)
        out: dict[int, list[float]] = {}
        for owner, text in zip(sh["owners"], texts, strict=True):
            record = sh["records"][owner]
            acc = self.task_reward.accuracy(record.task, text, record.solution, record.meta)
            out.setdefault(owner, []).append(acc)
        return out
