"""Rasterise a `Scene` into frames, degrade them, and write mp4 files / GOT-10k frame folders."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from videorft.data.synth.scene import PALETTE, Background, Degradation, Scene, SceneObject


@functools.lru_cache(maxsize=256)
def shape_mask(kind: str, size: int) -> np.ndarray:
    """Boolean (size, size) mask whose bounding box is the full square, so boxes stay exact."""
    c = (np.arange(size) + 0.5) / size  # pixel centres in [0, 1]
    yy, xx = np.meshgrid(c, c, indexing="ij")
    if kind == "square":
        mask = np.ones((size, size), dtype=bool)
    elif kind == "circle":
        mask = (xx - 0.5) ** 2 + (yy - 0.5) ** 2 <= 0.25
        # pixel-centre sampling leaves the extreme row/column empty at small sizes
        mask[size // 2, :] = True
        mask[:, size // 2] = True
    elif kind == "triangle":
        # apex at the top centre, base on the bottom row
        mask = np.abs(xx - 0.5) <= yy / 2 + 0.5 / size
        mask[0, size // 2] = True
    else:
        raise ValueError(f"unknown shape {kind!r}; valid shapes: square, circle, triangle")
    return mask


def render_background(bg: Background, width: int, height: int) -> np.ndarray:
    """(H, W, 3) uint8 background."""
    base = np.empty((height, width, 3), dtype=np.float32)
    base[:] = bg.colour
    if bg.kind == "gradient":
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        proj = xx / max(width - 1, 1) * np.cos(bg.angle) + yy / max(height - 1, 1) * np.sin(bg.angle)
        proj = (proj - proj.min()) / max(float(np.ptp(proj)), 1e-6)
        base += proj[..., None] * (np.asarray(bg.colour2, np.float32) - np.asarray(bg.colour, np.float32))
    elif bg.kind == "noise":
        noise = np.random.default_rng(bg.noise_seed).normal(0.0, bg.noise_sigma, (height, width, 1))
        base += noise.astype(np.float32)
    elif bg.kind != "plain":
        raise ValueError(f"unknown background {bg.kind!r}; valid: plain, gradient, noise")
    return np.clip(base, 0, 255).round().astype(np.uint8)


def paint(frame: np.ndarray, obj: SceneObject, j: int) -> None:
    """Draw ``obj`` as it is at frame ``j`` into ``frame`` (in place), clipped to the frame."""
    x0, y0, x1, y1 = obj.box(j)
    h, w = frame.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    mask = shape_mask(obj.shape.kind, obj.size)[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0]
    frame[cy0:cy1, cx0:cx1][mask] = PALETTE[obj.shape.colour]


def render_frames(scene: Scene, seed: int = 0) -> np.ndarray:
    """All frames of ``scene``: (T, H, W, 3) uint8, degradation applied. ``seed`` drives noise only."""
    bg = render_background(scene.background, scene.width, scene.height)
    frames = np.empty((scene.total_frames, scene.height, scene.width, 3), dtype=np.uint8)
    for j in range(scene.total_frames):
        frames[j] = bg
        for obj in scene.objects:  # later objects are drawn on top
            if obj.visible(j):
                paint(frames[j], obj, j)
    if scene.degradation is not None:
        frames = degrade(frames, scene.degradation, np.random.default_rng(seed))
    return frames


def degrade(frames: np.ndarray, deg: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Apply one degradation to (T, H, W, 3) uint8 frames; returns a new array."""
    if deg.kind == "noise":
        # fresh colour noise on every frame: unlike the static luminance noise of backgrounds
        noisy = frames.astype(np.float32) + rng.normal(0.0, deg.strength, frames.shape).astype(np.float32)
        return np.clip(noisy, 0, 255).round().astype(np.uint8)
    if deg.kind == "blur":
        from PIL import Image, ImageFilter

        blur = ImageFilter.GaussianBlur(radius=deg.strength)
        return np.stack([np.asarray(Image.fromarray(f).filter(blur)) for f in frames])
    if deg.kind == "blocking":
        b = max(int(deg.strength), 2)
        t, h, w, _ = frames.shape
        hb, wb = -(-h // b), -(-w // b)
        padded = np.pad(frames, ((0, 0), (0, hb * b - h), (0, wb * b - w), (0, 0)), mode="edge")
        means = padded.reshape(t, hb, b, wb, b, 3).astype(np.float32).mean(axis=(2, 4))
        blocks = np.repeat(np.repeat(means, b, axis=1), b, axis=2)[:, :h, :w]
        return blocks.round().astype(np.uint8)
    if deg.kind == "freeze":
        # dropped frames shown as repeats of the last good one: motion stutters
        hold = max(int(deg.strength), 2)
        keep = (np.arange(len(frames)) // hold) * hold
        return frames[keep].copy()
    raise ValueError(f"unknown degradation {deg.kind!r}; valid: noise, blur, blocking, freeze")


@functools.lru_cache(maxsize=1)
def video_codec() -> str:
    """libx264 when PyAV's bundled ffmpeg has it (it usually does), else mpeg4."""
    import av

    try:
        av.codec.Codec("libx264", "w")
        return "libx264"
    except Exception:  # noqa: BLE001 - any failure means "not available"
        return "mpeg4"


def write_mp4(path: str | Path, frames: np.ndarray, fps: int, qp: int = 18) -> None:
    """Encode (T, H, W, 3) uint8 frames (H, W even) as an mp4; deterministic for equal input
    (constant QP: CRF's float rate control changes once torch sets flush-to-zero in the process)."""
    from videorft.video.synth import write_video

    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs even frame sizes, got {w}x{h}")
    codec = video_codec()
    # one thread: x264's output depends on its thread count, and we parallelise over videos
    options = {"qp": str(qp), "preset": "veryfast"} if codec == "libx264" else {"qscale": "2"}
    write_video(path, frames, fps=fps, codec=codec, options={**options, "threads": "1"})


def write_got10k_sequence(
    folder: str | Path,
    frames: np.ndarray,
    boxes_xywh: list[tuple[float, float, float, float]],
    object_class: str,
) -> None:
    """A GOT-10k sequence folder: 00000001.jpg..., groundtruth.txt (x,y,w,h px), labels, meta_info.ini."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for j, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{j + 1:08d}.jpg", quality=95)
    lines = [",".join(f"{v:.4f}" for v in box) for box in boxes_xywh]
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    # always fully visible: absent 0, cover level 8 (= more than 90% visible)
    (folder / "absence.label").write_text("0\n" * len(frames))
    (folder / "cover.label").write_text("8\n" * len(frames))
    h, w = frames.shape[1:3]
    (folder / "meta_info.ini").write_text(
        "[METAINFO]\n"
        f"object_class: {object_class}\n"
        "motion_class: moving\n"
        "major_class: shape\n"
        "root_class: synthetic\n"
        "motion_adverb: steadily\n"
        f"resolution: ({w}, {h})\n"
    )
