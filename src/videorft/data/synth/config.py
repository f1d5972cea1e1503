"""Settings of the synthetic suite (everything `synthesize(**options)` accepts)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from videorft.data.synth.scene import PALETTE


@dataclass(frozen=True)
class SynthConfig:
    size: int = field(default=112, metadata={"help": "frame width = height in px (even, >= 32)"})
    frames: int = field(
        default=8, metadata={"help": "frames the model samples evenly; events are placed on them"}
    )
    duration: tuple[float, float] = field(default=(4.0, 12.0), metadata={"help": "video length range, s"})
    fps: tuple[int, int] = field(default=(4, 10), metadata={"help": "frame-rate range (integers)"})
    order_choices: tuple[int, int] = field(
        default=(2, 4), metadata={"help": "range of options (= shapes shown) in temporal-order questions"}
    )
    order_questions: tuple[str, ...] = field(
        default=("first", "last"),
        metadata={"help": "temporal-order questions asked: 'first', 'last' or both (drawn per video)"},
    )
    order_names: str = field(
        default="shape",
        metadata={
            "help": "how temporal-order options name the shapes: 'shape' ('red circle') or 'colour' ('red'; "
            "every shape then has a distinct colour, and the question asks for the colour)"
        },
    )
    order_options: str = field(
        default="random",
        metadata={
            "help": "option order of temporal-order questions: 'random', or 'palette' (sorted by colour, so "
            "with two colours the options never change and only the video tells the answer)"
        },
    )
    grounding_objects: tuple[int, int] = field(
        default=(1, 2),
        metadata={
            "help": "range of shapes in a temporal-grounding video (one query each); 1: the queried shape is "
            "the only one, so finding it needs no reading of the query"
        },
    )
    colours: tuple[str, ...] = field(
        default=tuple(PALETTE),
        metadata={"help": "colours shapes are drawn in (a subset of the palette; >= 4 for every task)"},
    )
    shape_scale: float = field(
        default=1.0,
        metadata={
            "help": "shape size multiplier (1: 25-30% of the frame side; grid objects are capped at a cell)"
        },
    )
    count_max: int = field(default=3, metadata={"help": "largest flash count in counting questions"})
    got10k_sequences: int = field(
        default=2, metadata={"help": "GOT-10k frame-folder sequences per split (0: none)"}
    )
    split_fractions: tuple[float, float, float] = field(
        default=(0.8, 0.1, 0.1), metadata={"help": "train/val/test shares of n per task"}
    )
    qp: int = field(
        default=18, metadata={"help": "x264 constant quantiser (lower: better quality, larger files)"}
    )
    workers: int = field(default=0, metadata={"help": "render processes (0: one per CPU core)"})
    progress: bool = field(default=False, metadata={"help": "show a rich progress bar"})

    def __post_init__(self) -> None:
        if self.size < 32 or self.size % 2:
            raise ValueError(f"size must be even and >= 32 (yuv420p needs even sizes), got {self.size}")
        if not 4 <= self.frames <= 64 or self.frames % 2:
            # Qwen2.5-VL samplers round the frame count to even (2-frame temporal patches)
            raise ValueError(f"frames must be even and in [4, 64], got {self.frames}")
        lo, hi = self.duration
        if not 0 < lo <= hi:
            raise ValueError(f"duration must be (min, max) with 0 < min <= max, got {self.duration}")
        flo, fhi = self.fps
        if not 1 <= flo <= fhi:
            raise ValueError(f"fps must be (min, max) integers with 1 <= min <= max, got {self.fps}")
        clo, chi = self.order_choices
        # with events of >= 2 sampled frames that never overlap, at most frames // 2 shapes fit
        if not 2 <= clo <= chi <= min(6, self.frames // 2):
            raise ValueError(
                f"order_choices must satisfy 2 <= min <= max <= {min(6, self.frames // 2)} "
                f"(6 colours; frames // 2 for frames={self.frames}), got {self.order_choices}"
            )
        glo, ghi = self.grounding_objects
        if not 1 <= glo <= ghi <= 4:  # one object per cell of the 2x2 grid
            raise ValueError(
                f"grounding_objects must satisfy 1 <= min <= max <= 4, got {self.grounding_objects}"
            )
        if not self.order_questions or set(self.order_questions) - {"first", "last"}:
            raise ValueError(
                f"order_questions must be a non-empty subset of ('first', 'last'), got {self.order_questions}"
            )
        if self.order_names not in ("shape", "colour"):
            raise ValueError(f"order_names must be 'shape' or 'colour', got {self.order_names!r}")
        unknown = [c for c in self.colours if c not in PALETTE]
        if unknown or len(set(self.colours)) != len(self.colours) or len(self.colours) < max(2, chi):
            raise ValueError(
                f"colours must be >= max(2, order_choices max) distinct names from {list(PALETTE)}, got {self.colours}"
            )
        if self.order_options not in ("random", "palette"):
            raise ValueError(f"order_options must be 'random' or 'palette', got {self.order_options!r}")
        if not 0.2 <= self.shape_scale <= 3.0:
            raise ValueError(f"shape_scale must be in [0.2, 3], got {self.shape_scale}")
        if not 1 <= self.count_max <= (self.frames + 1) // 3:
            raise ValueError(
                f"count_max must be in [1, {(self.frames + 1) // 3}] for frames={self.frames} "
                f"(each flash needs 2 sampled frames and a 1-frame gap), got {self.count_max}"
            )
        if self.got10k_sequences < 0:
            raise ValueError(f"got10k_sequences must be >= 0, got {self.got10k_sequences}")
        if len(self.split_fractions) != 3 or any(f < 0 for f in self.split_fractions):
            raise ValueError(f"split_fractions must be 3 non-negative numbers, got {self.split_fractions}")
        if abs(sum(self.split_fractions) - 1.0) > 1e-6:
            raise ValueError(f"split_fractions must sum to 1, got {self.split_fractions}")
        if not 0 <= self.qp <= 51:
            raise ValueError(f"qp must be in [0, 51], got {self.qp}")
        if self.workers < 0:
            raise ValueError(f"workers must be >= 0, got {self.workers}")

    @classmethod
    def from_options(cls, **options: Any) -> SynthConfig:
        """Build from keyword options; unknown names raise with the list of valid ones."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"unknown synth option(s) {unknown}; valid options: {', '.join(sorted(names))}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in options.items()})
