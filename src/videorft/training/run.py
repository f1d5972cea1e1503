"""Entry points behind `videorft train sft|grpo` (also called in-process by the demo)."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import yaml
from transformers import TrainerCallback
from trl import ModelConfig, SFTTrainer, get_peft_config

from videorft.data.loaders import LoadResult, ProbeCache, load_spec, to_hf_dataset
from videorft.files import append_jsonl
from videorft.inputs import SampleEncoder
from videorft.models.loading import load_model, load_processor
from videorft.models.tokenizer import cache_dir
from videorft.training.config import VideoDataArguments, VideoGRPOConfig, VideoSFTConfig
from videorft.training.media_skips import MediaSkips
from videorft.training.output_dir import resolved_config, training_folder
from videorft.training.sft import VideoSFTCollator

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


def _model_and_processor(model_args: ModelConfig) -> tuple[Any, Any]:
    if not model_args.model_name_or_path:
        raise ValueError("set `model_name_or_path` (a local checkpoint folder or a hub id)")
    processor = load_processor(model_args.model_name_or_path)
    model = load_model(
        model_args.model_name_or_path,
        dtype=model_args.dtype if model_args.dtype not in (None, "auto") else None,
        attn_implementation=model_args.attn_implementation,
    )
    return model, processor


def _prepare(
    data_args: VideoDataArguments, args: Any, model_args: ModelConfig, *extra: Any
) -> tuple[Any, Any, Any, list]:
    """Resolved config (``extra`` configs too) saved, model + processor loaded, dataset built, the JSONL log."""
    save_resolved_config(args.output_dir, data_args, model_args, args, *extra)
    model, processor = _model_and_processor(model_args)
    # The local main process probes the media and fills the probe cache; the other ranks then read it.
    with args.main_process_first(local=True, desc="media probe"):
        dataset, _ = build_dataset(data_args)
    return model, processor, dataset, [JsonlLogCallback(Path(args.output_dir) / "train_log.jsonl")]


def _fit(trainer: Any, processor: Any, output_dir: str, checkpoint: str | None) -> Any:
    """Train (from ``checkpoint`` when resuming) and save model + processor."""
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(output_dir)
    processor.save_pretrained(output_dir)
    skips = getattr(trainer, "media_skips", None) or getattr(trainer.data_collator, "skips", None)
    summary = skips.summary() if skips is not None else None
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
    with _folder(data_args, args, model_args, resume, overwrite) as checkpoint:
        return _train_sft(data_args, args, model_args, checkpoint, callbacks)


def _folder(data_args: Any, args: Any, model_args: Any, resume: bool, overwrite: bool) -> Any:
    config = resolved_config(data_args, model_args, args)
    from accelerate import PartialState

    # PartialState, not args.process_index: the latter reads 0 on every rank until TrainingArguments has set up
    # its devices, and then each rank would check (and race on) the folder the other one is filling.
    return training_folder(
        args.output_dir,
        config,
        resume=resume,
        overwrite=overwrite,
        main_process=PartialState(cpu=args.use_cpu).is_main_process,
    )


def _train_sft(
    data_args: VideoDataArguments,
    args: VideoSFTConfig,
    model_args: ModelConfig,
    checkpoint: str | None,
    callbacks: list | None,
) -> Any:
    from videorft.training.cpu_trainer import CPUSFTTrainer

    model, processor, dataset, log = _prepare(data_args, args, model_args)
    args.dataset_kwargs = {**(args.dataset_kwargs or {}), "skip_prepare_dataset": True}
    trainer = (CPUSFTTrainer if args.use_cpu else SFTTrainer)(
        model=model,
        args=args,
        train_dataset=dataset,
        processing_class=processor,
        data_collator=VideoSFTCollator(
            SampleEncoder.from_data_args(processor, data_args),
            max_length=args.max_length,
            answers=args.sft_answers,
            seed=args.seed,
            skips=MediaSkips(dataset, log_dir=args.output_dir, write=args.process_index == 0),
        ),
        peft_config=get_peft_config(model_args),
        callbacks=[*log, *(callbacks or [])],
    )
    return _fit(trainer, processor, args.output_dir, checkpoint)


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
    if cpu_options is not None and not args.use_cpu:
        raise ValueError("cpu_options are options of the CPU trainer: set use_cpu=True")
    with _folder(data_args, args, model_args, resume, overwrite) as checkpoint:
        return _train_grpo(data_args, args, model_args, checkpoint, callbacks, cpu_options)


def _train_grpo(
    data_args: VideoDataArguments,
    args: VideoGRPOConfig,
    model_args: ModelConfig,
    checkpoint: str | None,
    callbacks: list | None,
    cpu_options: Any,
) -> Any:
    from videorft.training.cpu_trainer import CPUGRPOTrainer
    from videorft.training.grpo_trainer import VideoGRPOTrainer

    model, processor, dataset, log = _prepare(
        data_args, args, model_args, *([cpu_options] if cpu_options else [])
    )
    cpu = {"cpu_options": cpu_options} if args.use_cpu else {}
    trainer = (CPUGRPOTrainer if args.use_cpu else VideoGRPOTrainer)(
        model=model,
        args=args,
        data_args=data_args,
        train_dataset=dataset,
        processing_class=processor,
        peft_config=get_peft_config(model_args),
        callbacks=[*log, *(callbacks or [])],
        **cpu,
    )
    return _fit(trainer, processor, args.output_dir, checkpoint)
