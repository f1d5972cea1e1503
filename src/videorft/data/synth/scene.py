"""What a synthetic video shows, as data: frames and ground truth both come from it. Frame ``j`` covers
``[j / fps, (j + 1) / fps)``: an object on frames ``[j0, j1)`` has interval ``[j0 / fps, j1 / fps]``."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Saturated colours 60 degrees apart in hue: distinct after yuv420p and a downscale to 56x56.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40),
    "yellow": (235, 215, 30),
    "green": (40, 200, 60),
    "cyan": (30, 205, 225),
    "blue": (45, 85, 240),
    "purple": (200, 50, 225),
}
SHAPES: tuple[str, ...] = ("square", "circle", "triangle")
#: Names of the 2x2 grid cells that multi-object scenes place their objects in.
CELLS: tuple[str, ...] = ("top left", "top right", "bottom left", "bottom right")


def sample_indices(total: int, k: int) -> list[int]:
    """``torch.linspace(0, total - 1, k).round()`` as qwen-vl-utils samples, in float32 without torch
    (float64 ``np.linspace`` rounds ties differently, e.g. total=22, k=5)."""
    if total < 1 or k < 1:
        raise ValueError(f"need total >= 1 and k >= 1, got total={total}, k={k}")
    if k == 1:
        return [0]
    end = np.float32(total - 1)
    step = end / np.float32(k - 1)
    i = np.arange(k)
    # torch fills the first half forwards from the start and the second half backwards from the end
    values = np.where(i < k // 2, step * i.astype(np.float32), end - step * (k - 1 - i).astype(np.float32))
    return [int(v) for v in np.rint(values.astype(np.float32))]


@dataclass(frozen=True)
class Shape:
    kind: str  # one of SHAPES
    colour: str  # a key of PALETTE

    @property
    def name(self) -> str:
        return f"{self.colour} {self.kind}"


@dataclass(frozen=True)
class SceneObject:
    """A shape of ``size`` px, visible on the frames of ``spans``, moving linearly from ``start`` to
    ``end`` (top-left corner, px) between its first and last visible frame."""

    shape: Shape
    size: int
    spans: tuple[tuple[int, int], ...]  # [j0, j1) frame ranges, sorted, disjoint
    start: tuple[float, float]
    end: tuple[float, float]
    cell: int | None = None  # index into CELLS when placed in the 2x2 grid

    def visible(self, j: int) -> bool:
        return any(j0 <= j < j1 for j0, j1 in self.spans)

    def box(self, j: int) -> tuple[int, int, int, int]:
        """Pixel box ``(x0, y0, x1, y1)`` (x1, y1 exclusive) at frame ``j`` (whether visible or not)."""
        first, last = self.spans[0][0], self.spans[-1][1] - 1
        a = 0.0 if last <= first else min(max((j - first) / (last - first), 0.0), 1.0)
        x = int(round(self.start[0] + a * (self.end[0] - self.start[0])))
        y = int(round(self.start[1] + a * (self.end[1] - self.start[1])))
        return (x, y, x + self.size, y + self.size)

    def interval(self, span: int, fps: int) -> tuple[float, float]:
        """Seconds ``[start, end]`` of span number ``span``."""
        j0, j1 = self.spans[span]
        return (j0 / fps, j1 / fps)


@dataclass(frozen=True)
class Background:
    kind: str  # "plain" | "gradient" | "noise"
    colour: tuple[int, int, int]
    colour2: tuple[int, int, int] = (0, 0, 0)  # gradient end colour
    angle: float = 0.0  # gradient direction, radians
    noise_sigma: float = 0.0  # luminance noise (same on all channels, so it adds no saturation)
    noise_seed: int = 0


@dataclass(frozen=True)
class Degradation:
    kind: str  # "noise" | "blur" | "blocking" | "freeze"
    strength: float  # sigma (noise), radius px (blur), block px (blocking), hold frames (freeze)


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    fps: int
    total_frames: int
    background: Background
    objects: tuple[SceneObject, ...] = field(default_factory=tuple)
    degradation: Degradation | None = None

    @property
    def duration(self) -> float:
        return self.total_frames / self.fps

    def normalised_box(self, obj: SceneObject, j: int) -> list[float]:
        x0, y0, x1, y1 = obj.box(j)
        return [x0 / self.width, y0 / self.height, x1 / self.width, y1 / self.height]
