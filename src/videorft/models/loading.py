"""Load a Qwen2.5-VL model and processor from a local folder or a hub id, by one code path.

A local folder is checked first so a missing or half-written checkpoint fails with the list of
missing files instead of a hub lookup error. A hub id (``Qwen/Qwen2.5-VL-7B-Instruct``) goes
straight to ``from_pretrained`` and only works where the hub (or its cache) is reachable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, ProcessorMixin


class ModelLoadError(RuntimeError):
    """A model or processor could not be loaded; the message says what is missing and where."""


def resolve_model_source(name_or_path: str | os.PathLike[str]) -> tuple[str, bool]:
    """``(source, is_local)``: an existing folder, or a hub id; anything else is a clear error."""
    name = os.fspath(name_or_path)
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"{path}: a checkpoint must be a folder, this is a file")
        return str(path), True
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)  # a path ('./x', '/x', '~/x', 'a/b/c') is no hub id
    except HFValidationError:
        raise ModelLoadError(
            f"{name}: checkpoint folder not found (and it is not a hub id like 'org/name')"
        ) from None
    return name, False


def _missing_model_files(folder: Path) -> list[str]:
    missing = [] if (folder / "config.json").is_file() else ["config.json"]
    has_weights = (
        any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")) or any(folder.glob("*.index.json"))
    )
    if not has_weights:
        missing.append("model weights (*.safetensors)")
    return missing


def _missing_processor_files(folder: Path) -> list[str]:
    missing = []
    if not ((folder / "tokenizer.json").is_file() or (folder / "vocab.json").is_file()):
        missing.append("tokenizer.json")
    if not ((folder / "processor_config.json").is_file() or (folder / "preprocessor_config.json").is_file()):
        missing.append("processor_config.json (or preprocessor_config.json)")
    return missing


def _incomplete(folder: Path, missing: list[str], what: str) -> ModelLoadError:
    return ModelLoadError(
        f"{folder}: incomplete {what} folder, missing {', '.join(missing)} "
        "(write a fresh one with `videorft model init --size tiny --out DIR`)"
    )


def _hub_error(name: str, exc: Exception) -> ModelLoadError:
    offline = os.environ.get("HF_HUB_OFFLINE", "0")
    return ModelLoadError(
        f"{name}: could not load it from the Hugging Face hub or its cache "
        f"(HF_HUB_OFFLINE={offline}; a hub id only works where the hub is reachable): {exc}"
    )


def load_model(
    name_or_path: str | os.PathLike[str],
    *,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device | None = None,
    attn_implementation: str | None = None,
) -> PreTrainedModel:
    """A ``Qwen2_5_VLForConditionalGeneration`` (via ``AutoModelForImageTextToText``), in eval mode.

    ``dtype`` is a torch dtype, its name ("bfloat16") or "auto" (the checkpoint's own); None keeps
    transformers' default. ``device`` moves the loaded model (no sharding).
    """
    from transformers import AutoModelForImageTextToText

    source, is_local = resolve_model_source(name_or_path)
    if is_local and (missing := _missing_model_files(Path(source))):
        raise _incomplete(Path(source), missing, "model")
    kwargs: dict[str, Any] = {}
    if dtype is not None:
        kwargs["dtype"] = _torch_dtype(dtype)
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    from safetensors import SafetensorError

    try:
        model = AutoModelForImageTextToText.from_pretrained(source, **kwargs)
    except (OSError, ValueError, SafetensorError) as exc:
        if not is_local:
            raise _hub_error(source, exc) from exc
        # e.g. a truncated copy: safetensors only says "incomplete metadata", so name the files
        files = ", ".join(sorted(p.name for p in Path(source).glob("*.safetensors"))) or "no weight files"
        raise ModelLoadError(
            f"{source}: could not load the model ({files}; truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from exc
    if device is not None:
        model = model.to(device)
    return model.eval()


def load_processor(name_or_path: str | os.PathLike[str]) -> ProcessorMixin:
    """The ``Qwen2_5_VLProcessor`` (tokenizer, chat template, image and video processors)."""
    from transformers import AutoProcessor

    source, is_local = resolve_model_source(name_or_path)
    if is_local and (missing := _missing_processor_files(Path(source))):
        raise _incomplete(Path(source), missing, "processor")
    try:
        return AutoProcessor.from_pretrained(source)
    except (OSError, ValueError) as exc:
        if is_local:
            raise ModelLoadError(f"{source}: could not load the processor: {exc}") from exc
        raise _hub_error(source, exc) from exc


def _torch_dtype(dtype: str | torch.dtype) -> str | torch.dtype:
    if not isinstance(dtype, str) or dtype == "auto":
        return dtype
    import torch

    value = getattr(torch, dtype.removeprefix("torch."), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r}; use e.g. 'float32', 'bfloat16', 'float16' or 'auto'")
    return value
