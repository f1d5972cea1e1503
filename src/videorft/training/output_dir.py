"""A training run's output folder: one writer, never two runs mixed, resumable after any stop.

``training_folder`` (entered before the model loads) takes the folder's lock, refuses a non-empty folder unless
``overwrite`` (which removes the former run's files) or ``resume``. ``resume`` takes the newest *complete*
``checkpoint-N`` if the saved ``videorft_config.yaml`` describes the same run (``RESUME_MAY_CHANGE`` aside) and
cuts ``train_log.jsonl`` / ``rollouts.jsonl`` back to it, so resumed steps are not logged twice.
``ResumesModelWeights`` makes the trainers load that checkpoint's model weights, which transformers' resume misses
for Qwen2.5-VL.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from videorft.files import read_jsonl, write_atomic
from videorft.run_folder import LOCK_NAME, RunFolderError, list_differences, run_lock

logger = logging.getLogger(__name__)

CONFIG_FILE = "videorft_config.yaml"
#: Files a training run writes (removed by ``overwrite``; checkpoint-* folders too).
RUN_FILES = (
    "train_log.jsonl",
    "rollouts.jsonl",
    "skipped_media.jsonl",
    CONFIG_FILE,
    "model.safetensors",
    "model.safetensors.index.json",
    "adapter_model.safetensors",
    "adapter_config.json",
    "training_args.bin",
)
#: Trainer fields a resumed run may change: how long it runs, how it logs and saves, where it reports.
RESUME_MAY_CHANGE = frozenset(
    {
        "max_steps",
        "num_train_epochs",
        "save_steps",
        "save_strategy",
        "save_total_limit",
        "save_only_model",
        "logging_steps",
        "logging_strategy",
        "logging_first_step",
        "logging_dir",
        "report_to",
        "run_name",
        "disable_tqdm",
        "log_level",
        "log_level_replica",
        "dataloader_num_workers",
        "dataloader_prefetch_factor",
        "dataloader_persistent_workers",
        "dataloader_pin_memory",
        "push_to_hub",
        "hub_model_id",
        "hub_strategy",
        "hub_token",
        "hub_private_repo",
        "resume_from_checkpoint",
        "output_dir",
        "local_rank",
    }
)


def plain(value: Any) -> Any:
    """A config value as YAML-safe plain data."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Enum):  # TrainingArguments' str-enums (SchedulerType, ...) dump as their value
        return plain(value.value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def resolved_config(*configs: Any) -> dict[str, dict[str, Any]]:
    """Every config dataclass as plain data, keyed by class name (what ``videorft_config.yaml`` holds)."""
    return {type(c).__name__: plain(dataclasses.asdict(c)) for c in configs}


def config_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``section.field: saved X, now Y`` for every field that makes ``current`` a different run."""
    out = []
    for section in sorted(set(saved) | set(current)):
        old, new = saved.get(section) or {}, current.get(section) or {}
        for name in sorted(set(old) | set(new)):
            if name in RESUME_MAY_CHANGE:
                continue
            if name in old and name in new and old[name] != new[name]:
                out.append(f"{section}.{name}: saved {old[name]!r}, now {new[name]!r}")
    return out


def complete_checkpoints(output_dir: str | Path) -> list[Path]:
    """``checkpoint-N`` folders whose ``trainer_state.json`` (written last) is whole, newest first.

    A checkpoint cut short (a crash, a full disk, Ctrl-C while saving) lacks it or holds a torn one: it is
    passed over with a warning.
    """
    from transformers.trainer_utils import sort_checkpoints

    good = []
    for ckpt in map(Path, reversed(sort_checkpoints(str(output_dir)))):
        try:
            json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
            good.append(ckpt)
        except (OSError, ValueError):
            logger.warning("%s is incomplete (interrupted while saving): skipped", ckpt)
    return good


def trim_logs(output_dir: str | Path, step: int) -> None:
    """Drop log rows of steps after ``step`` (they are run again) and lines torn by a crash."""
    for name, keep in (("train_log.jsonl", lambda s: s <= step), ("rollouts.jsonl", lambda s: s < step)):
        path = Path(output_dir) / name
        if not path.is_file():
            continue
        kept = []
        for row in read_jsonl(path):
            try:
                if keep(int(row["step"])):
                    kept.append(row)
            except (ValueError, KeyError, TypeError):
                continue
        write_atomic(path, "".join(json.dumps(row) + "\n" for row in kept))


def prepare_output_dir(
    output_dir: str | Path, config: dict[str, Any], *, resume: bool, overwrite: bool
) -> str | None:
    """Check (and with ``overwrite`` clear) the folder; returns the checkpoint to resume from, or None."""
    out = Path(output_dir)
    if resume and overwrite:
        raise RunFolderError("--resume continues the run in output_dir and --overwrite replaces it: pick one")
    if resume:
        checkpoints = complete_checkpoints(out)
        if not checkpoints:
            raise RunFolderError(f"--resume: no complete checkpoint-* folder in {out}")
        saved_path = out / CONFIG_FILE
        if not saved_path.is_file():
            raise RunFolderError(
                f"--resume: {saved_path} is missing, so {out} cannot be checked to be this run"
            )
        try:
            saved = yaml.safe_load(saved_path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise RunFolderError(f"--resume: {saved_path} is not valid YAML ({exc})") from None
        differences = config_differences(saved, config)
        if differences:
            raise RunFolderError(
                f"--resume: {out} holds a different run ({list_differences(differences)}); use the same config, "
                "or another output_dir"
            )
        step = int(checkpoints[0].name.split("-")[-1])
        trim_logs(out, step)
        return str(checkpoints[0])
    existing = sorted(p.name for p in out.iterdir() if p.name != LOCK_NAME) if out.is_dir() else []
    if existing and not overwrite:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        raise RunFolderError(
            f"{out} is not empty ({shown}): add --resume to continue its run, --overwrite to replace it, "
            "or choose another output_dir"
        )
    if overwrite:
        for ckpt in out.glob("checkpoint-*"):
            shutil.rmtree(ckpt, ignore_errors=True)
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return None


@contextmanager
def training_folder(
    output_dir: str | Path,
    config: dict[str, Any],
    *,
    resume: bool,
    overwrite: bool,
    main_process: bool = True,
) -> Iterator[str | None]:
    """Lock, check and prepare ``output_dir`` (main process only; others just find the checkpoint);
    yields the checkpoint to resume from (or None) and holds the lock until training ends."""
    if not main_process:
        checkpoints = complete_checkpoints(output_dir) if resume else []
        yield str(checkpoints[0]) if checkpoints else None
        return
    with run_lock(output_dir):
        yield prepare_output_dir(output_dir, config, resume=resume, overwrite=overwrite)


class ResumesModelWeights:
    """Trainer mixin: a resumed run continues from the checkpoint's weights, not the model it was built from.

    transformers' ``Trainer._load_from_checkpoint`` (5.24) reads ``model.safetensors`` with its raw keys into
    ``load_state_dict(strict=False)``; ``save_pretrained`` wrote Qwen2.5-VL's keys in the hub layout (``visual.*``,
    ``model.*``), which the model renames on load (``model.visual.*``, ``model.language_model.*``), so no key
    matched, nothing loaded, and the run went on from its starting weights with the checkpoint's optimizer and
    step (huggingface/transformers#43701). Here the weights go through ``from_pretrained``, which applies the
    renaming, into the model, strictly; adapters, FSDP and DeepSpeed keep the Trainer's own loading.
    """

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        model = self.model if model is None else model
        folder = Path(resume_from_checkpoint)
        full_weights = any(
            (folder / n).is_file() for n in ("model.safetensors", "model.safetensors.index.json")
        )
        if not full_weights or hasattr(model, "peft_config") or self.is_fsdp_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        # one extra copy of the weights in CPU memory while resuming: from_pretrained is the public path that
        # renames checkpoint keys (the renaming helpers are internal and change between versions)
        saved = type(model).from_pretrained(folder, dtype=next(model.parameters()).dtype)
        model.load_state_dict(saved.state_dict(), strict=True)
        logger.info("resumed the model weights of %s", folder)
