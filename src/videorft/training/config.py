"""Training configuration: dataclasses whose every field carries help text.

One parser (TRL's ``TrlParser``) reads defaults <- YAML <- CLI flags into three dataclasses:
``VideoDataArguments`` (data, frames, prompts, rewards), TRL's ``ModelConfig`` (model path, dtype, LoRA) and
``VideoSFTConfig`` / ``VideoGRPOConfig`` (TRL's trainer configs plus T-GRPO).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from trl import GRPOConfig, SFTConfig

from videorft.training.data_args import VideoDataArguments


@dataclass
class VideoSFTConfig(SFTConfig):
    """TRL's SFTConfig with the defaults of Video-R1's cold start (lr 1e-6, 1 epoch, bf16 on GPU)."""

    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate (Video-R1 SFT: 1e-6)."})
    sft_answers: str = field(
        default="gold",
        metadata={
            "help": "gold: train on the solutions. random: a random answer of the right form (option letter, "
            "interval) replaces each solution, so the cold start teaches the output format only and RL has to "
            "find the answers (the format-only cold start; multiple_choice and temporal_grounding).",
            "choices": ["gold", "random"],
        },
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the video collator needs the raw record columns."}
    )
    report_to: None | str | list[str] = field(  # this order: TRL's parser picks `str` for the flag
        default="tensorboard", metadata={"help": "Where to log: tensorboard (default), wandb, none."}
    )


@dataclass
class VideoGRPOConfig(GRPOConfig):
    """TRL's GRPOConfig plus T-GRPO (Video-R1's temporal-contrast bonus).

    TRL's own defaults (beta=0.0, loss_type='dapo', use_bias_correction_kl=True) differ from both papers;
    the reproduction configs in ``configs/`` set beta=0.04, loss_type='grpo' and the plain k3 KL explicitly.
    """

    temporal: bool = field(
        default=False,
        metadata={
            "help": "T-GRPO: also answer each video prompt with shuffled frames and add the temporal bonus."
        },
    )
    shuffled_generations: int | None = field(
        default=None,
        metadata={"help": "Completions per prompt with shuffled frames (default num_generations // 2)."},
    )
    shuffle_unit: str = field(
        default="temporal_patch",
        metadata={
            "help": "'temporal_patch': permute blocks of 2 frames so every vision token stays intact; "
            "'frame': permute whole frames as Video-R1 does."
        },
    )
    temporal_alpha: float = field(default=0.3, metadata={"help": "T-GRPO bonus alpha."})
    temporal_mu: float = field(
        default=0.8,
        metadata={
            "help": "T-GRPO: bonus when p >= mu * p_shuffled (Video-R1's code: 0.8). p and p_shuffled are "
            "fractions of G and of shuffled_generations, so mu only acts where some k/G lies in "
            "[mu * p_shuffled, p_shuffled): with G = 4 and 2 shuffled completions, 0.8 and 1.0 are the same."
        },
    )
    temporal_min_acc: float = field(
        default=0.1, metadata={"help": "T-GRPO: only completions with accuracy above this get the bonus."}
    )
    len_control: bool = field(
        default=False,
        metadata={
            "help": "Video-R1's length reward (`--len_control true` in its training scripts): in a prompt group where "
            "more than one completion has accuracy > 0.1, each of those that is 320-512 tokens long gets +0.2 "
            "(`algos.length_bonus`). Logged per step as the `length_bonus` reward column."
        },
    )
    share_vision_features: bool = field(
        default=True,
        metadata={
            "help": "Run the vision tower once per distinct video in each forward (a group's G rows share one "
            "video; T-GRPO's patch-shuffled copies reuse it permuted). Exact; False recomputes per row."
        },
    )
    report_to: None | str | list[str] = field(  # this order: TRL's parser picks `str` for the flag
        default="tensorboard", metadata={"help": "Where to log: tensorboard (default), wandb, none."}
    )
    remove_unused_columns: bool | None = field(
        default=False, metadata={"help": "Must stay False: rewards read the task/solution/meta columns."}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.shuffle_unit not in ("temporal_patch", "frame"):
            raise ValueError(f"shuffle_unit must be 'temporal_patch' or 'frame', got {self.shuffle_unit!r}")
        if self.shuffled_generations is None:
            self.shuffled_generations = max(1, (self.num_generations or 8) // 2)
        if self.temporal and self.shuffled_generations < 1:
            raise ValueError("temporal=True needs shuffled_generations >= 1")
        if self.temporal and not 0 <= self.temporal_mu:
            raise ValueError(f"temporal_mu must be >= 0, got {self.temporal_mu}")


@dataclass
class CPUOptions:
    """Options of the CPU trainer, for small models learning from a weak start (the demo sets all three)."""

    sampler_logprobs: bool = field(
        default=False,
        metadata={
            "help": "Score completions under the distribution they were sampled from: with top_k / top_p / min_p, "
            "log-probabilities are renormalised over the tokens the sampler could draw (TRL scores the full "
            "softmax, so the gradient also moves tokens that are never sampled)."
        },
    )
    freeze_embeddings: bool = field(
        default=False,
        metadata={
            "help": "Keep the token embeddings and the output head (one matrix when tied) fixed; the transformer "
            "layers and the vision tower still learn. For small models whose vocabulary rows dominate the weights."
        },
    )
    balance_answers: bool = field(
        default=False,
        metadata={
            "help": "Order the prompts so that each task, and each gold answer of a multiple-choice task, is spread "
            "evenly over the epoch: every step holds them in the dataset's proportions instead of a random mix."
        },
    )


def configuration_markdown() -> str:
    """docs/configuration.md, generated from the dataclasses' help text (a test keeps the file current)."""
    import dataclasses as dc

    def table(cls: type, own_only: bool) -> list[str]:
        base = {f.name for f in dc.fields(cls.__mro__[1])} if own_only else set()
        rows = ["| field | default | help |", "|---|---|---|"]
        for f in dc.fields(cls):
            if own_only and f.name in base and f.name not in cls.__dict__.get("__annotations__", {}):
                continue
            default = f.default if f.default is not dc.MISSING else "(required)"
            help_text = f.metadata.get("help", "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| `{f.name}` | `{default}` | {help_text} |")
        return rows

    lines = [
        "# Configuration reference",
        "",
        "Generated from `videorft/training/config.py` (`python -m videorft.training.config > docs/configuration.md`).",
        "`videorft train sft|grpo CONFIG.yaml [--field value ...]` reads defaults <- YAML <- flags into",
        "`VideoDataArguments`, TRL's `ModelConfig` (`model_name_or_path`, `dtype`, `use_peft`, `lora_r`, ...) and",
        "`VideoSFTConfig` / `VideoGRPOConfig`, which extend TRL's `SFTConfig` / `GRPOConfig` (every TRL field is",
        "accepted; see TRL's documentation). The resolved config is saved as `<output_dir>/videorft_config.yaml`.",
        "Below: the fields videorft adds, and the TRL defaults it changes.",
        "",
        "## VideoDataArguments (data, frames, prompts, rewards)",
        "",
        *table(VideoDataArguments, own_only=False),
        "",
        "## VideoSFTConfig (TRL SFTConfig +)",
        "",
        *table(VideoSFTConfig, own_only=True),
        "",
        "## VideoGRPOConfig (TRL GRPOConfig + T-GRPO)",
        "",
        *table(VideoGRPOConfig, own_only=True),
        "",
        "## CPUOptions (the CPU trainer's options: Python API and demo)",
        "",
        "`train_grpo(..., cpu_options=CPUOptions(...))` with `use_cpu=True` (`videorft/training/cpu_trainer.py`).",
        "",
        *table(CPUOptions, own_only=False),
        "",
        "Note: three TRL 1.16 defaults differ from what both papers' code ran: `beta=0.0` (theirs: 0.04),",
        "`loss_type='dapo'` (theirs: the per-completion token mean, `grpo`) and `use_bias_correction_kl=True`",
        "(k3 multiplied by the importance ratio, which carries a gradient even on-policy; theirs: plain k3,",
        "`use_bias_correction_kl: false`). The reproduction configs in `configs/` set all three; every value",
        'of those configs and its source file is listed in docs/deviations.md ("Reproduction configs").',
        "",
        "## vLLM rollouts (TRL fields)",
        "",
        "`use_vllm: true` with `vllm_mode: colocate` generates GRPO / T-GRPO rollouts with vLLM, video included",
        "(`training/vllm_rollouts.py`; `pip install -e '.[gpu]'`). `vllm_mode: server` is refused for video.",
        "Used: `vllm_gpu_memory_utilization` (share of GPU memory for vLLM; leave room for training, e.g. 0.3-0.5",
        "for 7B on one 80 GB card), `vllm_max_model_length` (default: from the frame budget: video tokens + one",
        "image + 2048 text tokens + `max_completion_length`), `vllm_importance_sampling_correction` (TRL's, on by",
        "default), `generation_kwargs` (extra `SamplingParams`). `vllm_tensor_parallel_size` must be 1 and",
        "`vllm_enable_sleep_mode` is ignored. Weights are pushed to vLLM once per optimizer step.",
        "",
    ]
    return "\n".join(lines)


def _field_kind(annotation: object) -> str:
    """ "bool" / "int" / "float" / "str" / "list" / "any" for a dataclass field's annotation (``precheck``)."""
    import re

    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    text = re.sub(r"Literal\[[^\]]*\]", "str", text)
    text = re.sub(r"<class '(\w+)'>", r"\1", text)
    tokens = set(re.findall(r"[A-Za-z_]+", text)) - {"None", "Optional", "Union"}
    if tokens <= {"bool"} and tokens:
        return "bool"
    if tokens and tokens <= {"int"}:
        return "int"
    if tokens and tokens <= {"float", "int"}:
        return "float"
    if tokens <= {"str"} and tokens:
        return "str"
    if tokens and (tokens <= {"list", "str"} or tokens <= {"list", "int"} or tokens <= {"list", "float"}):
        return "list"
    return "any"


def config_field_kinds() -> dict[str, dict[str, str]]:
    """``videorft/training/config_fields.json``: every field `videorft train sft|grpo` accepts and its kind."""
    import dataclasses as dc
    import typing

    from trl import ModelConfig

    def kinds(*classes: type) -> dict[str, str]:
        out = {}
        for cls in classes:
            # The class annotations, not Field.type: HfArgumentParser rewrites Field.type in place.
            try:
                hints = typing.get_type_hints(cls)
            except Exception:  # noqa: BLE001 - an unresolvable forward reference: the raw annotations
                hints = {}
            for f in dc.fields(cls):
                if f.init:
                    out[f.name] = _field_kind(hints.get(f.name, cls.__annotations__.get(f.name, f.type)))
        return out

    return {
        "sft": dict(sorted(kinds(VideoDataArguments, VideoSFTConfig, ModelConfig).items())),
        "grpo": dict(sorted(kinds(VideoDataArguments, VideoGRPOConfig, ModelConfig).items())),
    }


if __name__ == "__main__":
    import json
    import sys

    if sys.argv[1:] == ["--fields"]:  # videorft/training/config_fields.json
        print(json.dumps(config_field_kinds(), indent=1))
    else:
        print(configuration_markdown(), end="")
