"""Entry points behind `videorft train sft|grpo` (also called in-process by the demo)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback
from trl import ModelConfig, get_peft_config

from videorft.data.loaders import LoadResult, ProbeCache, load_spec, to_hf_dataset
from videorft.files import append_jsonl
from videorft.inputs import SampleEncoder
from videorft.models.loading import load_model, load_processor
from videorft.models.tokenizer import cache_dir
from videorft.training.config import VideoDataArguments, VideoGRPOConfig, VideoSFTConfig
from videorft.training.media_skips import MediaSkips
from videorft.training.output_dir import resolved_config, training_folder
from videorft.training.sft import VideoSFTCollator, VideoSFTTrainer

logger = logging.getLogger(__name__)


class JsonlLogCallback(TrainerCallback):
    """Appends every logged step to ``<output_dir>/train_log.jsonl`` (read by `videorft report`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D401 - TrainerCallback signature
        if state.is_world_process_zero and logs:
            row = {
                "step": state.global_step,
                **{k: v for k, v in logs.items() if isinstance(v, (int, float))},
            }
            append_jsonl(self.path, [row])


def build_dataset(data_args: VideoDataArguments, *, split: str | None = None) -> tuple[Any, LoadResult]:
    """Records of the configured spec/split/tasks as a ``datasets.Dataset`` (``image`` renamed ``image_path``)."""
    if not data_args.data:
        raise ValueError(
            "no training data: set `data` (a FORMAT:PATH spec or a folder with videorft_data.yaml)"
        )
    result = load_spec(
        data_args.data,
        split=split or data_args.split,
        video_root=data_args.video_root,
        skip_invalid=data_args.skip_invalid,
        check_videos=data_args.skip_invalid,
        allow_outside_root=data_args.allow_outside_root,
        probe_cache=probe_cache(data_args) if data_args.skip_invalid else None,
    )
    records = result.records
    if data_args.tasks:
        records = [r for r in records if r.task in set(data_args.tasks)]
    if data_args.limit is not None:
        records = records[: data_args.limit]
    if not records:
        raise ValueError(
            f"{data_args.data}: no usable records (split={split or data_args.split}, tasks={data_args.tasks})"
        )
    if result.skipped:
        logger.warning("%s", result.summary())
    # No prompt column: the trainers render each prompt once, from the sampled clip (videorft.inputs).
    return to_hf_dataset(records).rename_column("image", "image_path"), result


def probe_cache(data_args: VideoDataArguments) -> ProbeCache:
    """The media probes of ``data_args.data`` in videorft's user cache (``$VIDEORFT_CACHE``, default
    ~/.cache/videorft): one file per dataset spec and video root; entries are checked by size + mtime."""
    key = hashlib.sha1(f"{data_args.data}\0{data_args.video_root}".encode()).hexdigest()[:16]
    return ProbeCache(cache_dir() / "probes" / f"{key}.json")


def save_resolved_config(output_dir: str | Path, *configs: Any) -> Path:
    """Write every config dataclass, as resolved (defaults <- YAML <- CLI), to ``videorft_config.yaml``."""
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "videorft_config.yaml"
    path.write_text(yaml.safe_dump(resolved_config(*configs), sort_keys=False))
    return path


def _prepare(
    data_args: VideoDataArguments, args: Any, model_args: ModelConfig, *extra: Any, main_process: bool = True
) -> tuple[Any, Any, Any, list]:
    """Resolved config (``extra`` configs too) saved, model + processor loaded, dataset built, the JSONL log."""
    if main_process:  # another rank writing it could land before the main process has checked the folder
        save_resolved_config(args.output_dir, data_args, model_args, args, *extra)
    if not model_args.model_name_or_path:
        raise ValueError("set `model_name_or_path` (a local checkpoint folder or a hub id)")
    processor = load_processor(model_args.model_name_or_path)
    model = load_model(
        model_args.model_name_or_path,
        dtype=model_args.dtype if model_args.dtype not in (None, "auto") else None,
        attn_implementation=model_args.attn_implementation,
    )
    # The local main process probes the media and fills the probe cache; the other ranks then read it.
    with args.main_process_first(local=True, desc="media probe"):
        dataset, _ = build_dataset(data_args)
    return model, processor, dataset, [JsonlLogCallback(Path(args.output_dir) / "train_log.jsonl")]


def _train(
    data_args: VideoDataArguments,
    args: Any,
    model_args: ModelConfig,
    resume: bool,
    overwrite: bool,
    callbacks: list | None,
    build: Callable[..., Any],
    *extra: Any,
) -> Any:
    """Check the output folder, load, ``build(**trainer_kwargs)`` the trainer, train (resuming from the folder's
    checkpoint), save model + processor and report the skipped media; returns the trainer."""
    from accelerate import PartialState

    # PartialState, not args.process_index: the latter reads 0 on every rank until TrainingArguments has set up
    # its devices, and then each rank would check (and race on) the folder the other one is filling.
    main_process = PartialState(cpu=args.use_cpu).is_main_process
    config = resolved_config(data_args, model_args, args)
    with training_folder(
        args.output_dir, config, resume=resume, overwrite=overwrite, main_process=main_process
    ) as checkpoint:
        model, processor, dataset, log = _prepare(
            data_args, args, model_args, *extra, main_process=main_process
        )
        trainer = build(
            model=model,
            args=args,
            train_dataset=dataset,
            processing_class=processor,
            peft_config=get_peft_config(model_args),
            callbacks=[*log, *(callbacks or [])],
        )
        trainer.train(resume_from_checkpoint=checkpoint)
        trainer.save_model(args.output_dir)
        processor.save_pretrained(args.output_dir)
        skips = getattr(trainer, "media_skips", None) or trainer.data_collator.skips
        summary = skips.summary()
        if summary and trainer.accelerator.is_main_process:
            logger.warning("%s", summary)
        return trainer


def train_sft(
    data_args: VideoDataArguments,
    args: VideoSFTConfig,
    model_args: ModelConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list | None = None,
) -> Any:
    """Supervised cold start; returns the trainer after training (final model saved in ``output_dir``).

    ``output_dir`` must be empty unless ``resume`` (continue its run) or ``overwrite`` (replace it)."""
    from videorft.training.cpu_trainer import CPUSFTTrainer

    def build(**kwargs: Any) -> Any:
        args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
        collator = VideoSFTCollator(
            SampleEncoder.from_data_args(kwargs["processing_class"], data_args),
            max_length=args.max_length,
            answers=args.sft_answers,
            seed=args.seed,
            skips=MediaSkips(kwargs["train_dataset"], log_dir=args.output_dir, write=args.process_index == 0),
        )
        return (CPUSFTTrainer if args.use_cpu else VideoSFTTrainer)(data_collator=collator, **kwargs)

    return _train(data_args, args, model_args, resume, overwrite, callbacks, build)


def train_grpo(
    data_args: VideoDataArguments,
    args: VideoGRPOConfig,
    model_args: ModelConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    callbacks: list | None = None,
    cpu_options: Any = None,
) -> Any:
    """GRPO, or T-GRPO with ``args.temporal``; returns the trainer after training (``output_dir`` as in
    ``train_sft``). ``use_cpu`` runs ``CPUGRPOTrainer``, with ``cpu_options`` (``config.CPUOptions``)."""
    from videorft.training.cpu_trainer import CPUGRPOTrainer
    from videorft.training.grpo_trainer import VideoGRPOTrainer

    if cpu_options is not None and not args.use_cpu:
        raise ValueError("cpu_options are options of the CPU trainer: set use_cpu=True")
    if args.use_cpu:
        build = partial(CPUGRPOTrainer, data_args=data_args, cpu_options=cpu_options)
    else:
        build = partial(VideoGRPOTrainer, data_args=data_args)
    extra = [cpu_options] if cpu_options else []
    return _train(data_args, args, model_args, resume, overwrite, callbacks, build, *extra)
