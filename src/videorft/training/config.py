"""Training configuration: dataclasses whose every field carries help text.

One parser (TRL's ``TrlParser``) reads defaults <- YAML <- CLI flags into three dataclasses:
``VideoDataArguments`` (data, frames, prompts, rewards), TRL's ``ModelConfig`` (model path, dtype, LoRA) and
``VideoSFTConfig`` / ``VideoGRPOConfig`` (TRL's trainer configs plus T-GRPO).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from trl import GRPOConfig, SFTConfig

from videorft.training.data_args import VideoDataArguments
from videorft.training.sft_answers import answer_modes


@dataclass
class VideoSFTConfig(SFTConfig):
    """TRL's SFTConfig with the defaults of Video-R1's cold start (lr 1e-6, 1 epoch, bf16 on GPU)."""

    learning_rate: float = field(default=1e-6, metadata={"help": "Peak learning rate (Video-R1 SFT: 1e-6)."})
    sft_answers: str = field(
        default="gold",
        metadata={
            "help": "gold: train on the solutions. random: a random answer of the right form (option letter, "
            "interval) replaces each solution, so the cold start teaches the output format only and RL has to "
            "find the answers (the format-only cold start; multiple_choice and temporal_grounding). Per task: "
            "'temporal_grounding=gold,multiple_choice=random' (tasks not named: gold).",
        },
    )
    remove_unused_columns: bool = field(
        default=False, metadata={"help": "Must stay False: the video collator needs the raw record columns."}
    )
    report_to: None | str | list[str] = field(  # this order: TRL's parser picks `str` for the flag
        default="tensorboard", metadata={"help": "Where to log: tensorboard (default), wandb, none."}
    )

    def __post_init__(self) -> None:
        answer_modes(self.sft_answers)  # a bad spec fails here, not at the first batch
        super().__post_init__()


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
    """docs/configuration.md: ``configuration.md.jinja`` with tables generated from the dataclasses' help text (a
    test keeps the file current)."""
    import dataclasses as dc

    import jinja2

    def table(cls: type, own_only: bool) -> str:
        base = {f.name for f in dc.fields(cls.__mro__[1])} if own_only else set()
        rows = ["| field | default | help |", "|---|---|---|"]
        for f in dc.fields(cls):
            if own_only and f.name in base and f.name not in cls.__dict__.get("__annotations__", {}):
                continue
            default = f.default if f.default is not dc.MISSING else "(required)"
            help_text = f.metadata.get("help", "").replace("|", "\\|").replace("\n", " ")
            rows.append(f"| `{f.name}` | `{default}` | {help_text} |")
        return "\n".join(rows)

    template = Path(__file__).with_name("configuration.md.jinja").read_text(encoding="utf-8")
    return jinja2.Template(template, keep_trailing_newline=True).render(
        data=table(VideoDataArguments, own_only=False),
        sft=table(VideoSFTConfig, own_only=True),
        grpo=table(VideoGRPOConfig, own_only=True),
        cpu=table(CPUOptions, own_only=False),
    )


def _field_kind(annotation: object) -> str:
    """ "bool" / "int" / "float" / "str" / "list" / "any" for a dataclass field's annotation (``precheck``)."""
    import re

    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    text = re.sub(r"Literal\[[^\]]*\]", "str", text)
    text = re.sub(r"<class '(\w+)'>", r"\1", text)
    tokens = set(re.findall(r"[A-Za-z_]+", text)) - {"None", "Optional", "Union"}
    for kind, allowed in (
        ("bool", {"bool"}),
        ("int", {"int"}),
        ("float", {"float", "int"}),
        ("str", {"str"}),
    ):
        if tokens and tokens <= allowed:
            return kind
    if tokens and any(tokens <= {"list", item} for item in ("str", "int", "float")):
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
