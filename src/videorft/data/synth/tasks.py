"""Task generators: a seeded RNG -> a `Scene` plus its annotation rows in a real format.

Every event a question depends on shows on >= 2 of the ``cfg.frames`` evenly sampled frames; its
boundaries lie between sampled frames with a one-frame margin, so off-by-one samplers see the same events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from videorft.data.synth.config import SynthConfig
from videorft.data.synth.scene import (
    CELLS,
    PALETTE,
    SHAPES,
    Background,
    Degradation,
    Scene,
    SceneObject,
    Shape,
    sample_indices,
)

LETTERS = "ABCDEFG"
VIDEO_DIR = "videos"  # every video lives in <out>/videos/<name>.mp4


@dataclass
class Sample:
    """One rendered video and the annotation rows (in ``format``) that describe it."""

    scene: Scene
    format: str
    rows: list[dict[str, Any]]
    answers: dict[str, Any] = field(default_factory=dict)  # plain ground truth, for tests and the oracle


@dataclass(frozen=True)
class TaskSpec:
    name: str  # canonical task name (videorft.data.record.TASKS)
    prefix: str  # video file prefix
    format: str  # annotation format it is written in
    generate: Callable[[np.random.Generator, SynthConfig, str], Sample]


# ---------------------------------------------------------------- shared helpers


def _round(x: float) -> float:
    return round(float(x), 6)


def _timing(rng: np.random.Generator, cfg: SynthConfig) -> tuple[int, int, list[int]]:
    """fps, total frames, and the indices of the ``cfg.frames`` sampled frames."""
    fps = int(rng.integers(cfg.fps[0], cfg.fps[1] + 1))
    duration = float(rng.uniform(*cfg.duration))
    total = max(int(round(duration * fps)), 2 * cfg.frames)  # >= 2 frames per sampled frame
    return fps, total, sample_indices(total, cfg.frames)


def _boundary(rng: np.random.Generator, lo: int, hi: int) -> int:
    """A frame in [lo, hi], kept one frame off both ends when the range is wide enough."""
    if hi - lo >= 2:
        lo, hi = lo + 1, hi - 1
    return int(rng.integers(lo, hi + 1))


def slots_to_frames(rng: np.random.Generator, idx: list[int], total: int, a: int, b: int) -> tuple[int, int]:
    """Frame span [j0, j1) showing exactly the sampled frames a..b-1 (slot indices, 0 <= a < b <= K)."""
    k = len(idx)
    j0 = 0 if a == 0 else _boundary(rng, idx[a - 1] + 1, idx[a])
    j1 = total if b == k else _boundary(rng, idx[b - 1] + 1, idx[b])
    return j0, j1


def _composition(rng: np.random.Generator, total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` non-negative integers, uniformly over all splits."""
    bars = np.sort(rng.choice(total + parts - 1, size=parts - 1, replace=False)) if parts > 1 else []
    edges = [-1, *[int(b) for b in bars], total + parts - 1]
    return [edges[i + 1] - edges[i] - 1 for i in range(parts)]


def _shapes(rng: np.random.Generator, n: int, cfg: SynthConfig) -> list[Shape]:
    """``n`` shapes with distinct colours (the oracle and the questions tell objects apart by colour)."""
    if n > len(cfg.colours):
        raise ValueError(
            f"a video needs {n} distinct colours but the suite's colours are {list(cfg.colours)}"
        )
    colours = rng.choice(list(cfg.colours), size=n, replace=False)
    return [Shape(str(rng.choice(SHAPES)), str(c)) for c in colours]


def _background(rng: np.random.Generator) -> Background:
    """Unsaturated backgrounds (greys with a slight tint) so coloured shapes always stand out."""

    def tinted() -> tuple[int, int, int]:
        grey = rng.uniform(25, 150)
        return tuple(int(np.clip(grey + rng.uniform(-15, 15), 0, 255)) for _ in range(3))  # type: ignore[return-value]

    kind = str(rng.choice(["plain", "gradient", "noise"]))
    return Background(
        kind=kind,
        colour=tinted(),
        colour2=tinted() if kind == "gradient" else (0, 0, 0),
        angle=float(rng.uniform(0, 2 * np.pi)),
        noise_sigma=float(rng.uniform(6, 14)) if kind == "noise" else 0.0,
        noise_seed=int(rng.integers(2**31)),
    )


def _size(rng: np.random.Generator, cfg: SynthConfig, lo: float = 0.25, hi: float = 0.3) -> int:
    # >= a quarter of the frame: >= 14 px after the demo's downscale to 56x56
    return int(round(rng.uniform(lo, hi) * cfg.shape_scale * cfg.size))


def _in_cell(
    rng: np.random.Generator,
    cfg: SynthConfig,
    shape: Shape,
    cell: int,
    spans: list[tuple[int, int]],
    move: bool,
) -> SceneObject:
    """An object inside one cell of the 2x2 grid, so simultaneous objects never overlap."""
    half = cfg.size // 2
    size = min(_size(rng, cfg), half - 2)
    ox, oy = (cell % 2) * half, (cell // 2) * half

    def point() -> tuple[float, float]:
        return (
            ox + 1 + float(rng.uniform(0, half - size - 2)),
            oy + 1 + float(rng.uniform(0, half - size - 2)),
        )

    start = point()
    return SceneObject(shape, size, tuple(spans), start, point() if move else start, cell)


def _free_mover(
    rng: np.random.Generator, cfg: SynthConfig, shape: Shape, spans: list[tuple[int, int]], min_travel: float
) -> SceneObject:
    """An object crossing the whole frame, travelling at least ``min_travel`` of the frame size."""
    size = min(_size(rng, cfg, 0.22, 0.3), int(0.6 * cfg.size))  # room left to travel
    room = cfg.size - size
    for _ in range(100):
        start = (float(rng.uniform(0, room)), float(rng.uniform(0, room)))
        end = (float(rng.uniform(0, room)), float(rng.uniform(0, room)))
        if np.hypot(end[0] - start[0], end[1] - start[1]) >= min_travel * cfg.size:
            break
    return SceneObject(shape, size, tuple(spans), start, end)


def _scene(
    rng: np.random.Generator, cfg: SynthConfig, fps: int, total: int, objects: list[SceneObject], **kw: Any
) -> Scene:
    """The scene of ``objects`` on a background drawn from ``rng`` now (the last draw of a sample)."""
    return Scene(cfg.size, cfg.size, fps, total, _background(rng), tuple(objects), **kw)


def _videor1_row(
    name: str, task: str, problem: str, ptype: str, options: list[str], answer: Any
) -> dict[str, Any]:
    """A Video-R1 row of a synthetic video."""
    return {
        "problem": problem,
        "data_type": "video",
        "problem_type": ptype,
        "options": options,
        "solution": f"<answer>{answer}</answer>",
        "path": f"./{VIDEO_DIR}/{name}.mp4",
        "data_source": f"synth/{task}",
    }


def _seconds(obj: SceneObject, fps: int, span: int = 0) -> list[float]:
    return [_round(t) for t in obj.interval(span, fps)]


# ---------------------------------------------------------------- tasks


def gen_temporal_order(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """ "Which shape appears first/last?" over 2-4 shapes shown one after another (videor1, MC).

    Shapes show on equally many sampled frames, never together: shuffled frames hold no clue to the order.
    """
    fps, total, idx = _timing(rng, cfg)
    k = cfg.frames
    n = int(rng.integers(cfg.order_choices[0], cfg.order_choices[1] + 1))
    length = min(3, k // n)  # sampled frames per shape (3 learns fastest; 2 when 3 does not fit)
    gaps = _composition(rng, k - n * length, n + 1)
    shapes = _shapes(rng, n, cfg)
    objects, slot = [], gaps[0]
    for i, shape in enumerate(shapes):
        span = slots_to_frames(rng, idx, total, slot, slot + length)
        objects.append(_in_cell(rng, cfg, shape, int(rng.integers(4)), [span], move=True))
        slot += length + gaps[i + 1]
    which = str(rng.choice(list(cfg.order_questions)))
    target = objects[0] if which == "first" else objects[-1]
    order = rng.permutation(n)
    if cfg.order_options == "palette":  # a fixed option order: the answer depends on the video alone
        order = np.argsort([list(PALETTE).index(o.shape.colour) for o in objects], kind="stable")
    by_colour = cfg.order_names == "colour"  # colours are distinct within a video (`_shapes`)
    names = [o.shape.colour if by_colour else o.shape.name for o in objects]
    options = [f"{LETTERS[i]}. {names[j]}" for i, j in enumerate(order)]
    letter = LETTERS[int(np.flatnonzero(np.asarray([objects[j] is target for j in order]))[0])]
    if by_colour:
        templates = ["Which colour appears {w}?", "Which of these colours is shown {w} in the video?"]
    else:
        templates = ["Which shape appears {w}?", "Which of these shapes is shown {w} in the video?"]
    problem = str(rng.choice(templates)).format(w=which)
    row = _videor1_row(name, "temporal_order", problem, "multiple choice", options, letter)
    answers = {"letter": letter, "which": which, "order": [o.shape.name for o in objects]}
    return Sample(_scene(rng, cfg, fps, total, objects), "videor1", [row], answers)


def gen_counting(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """ "How many times does the green circle appear?": flashes of 2 sampled frames (videor1, numerical)."""
    fps, total, idx = _timing(rng, cfg)
    k = cfg.frames
    n = int(rng.integers(1, 4))  # the target plus 0-2 distractors with their own counts
    shapes, cells = _shapes(rng, n, cfg), rng.permutation(4)
    objects, counts = [], []
    for shape, cell in zip(shapes, cells):
        c = int(rng.integers(1, cfg.count_max + 1))
        gaps = _composition(rng, k - (3 * c - 1), c + 1)
        spans, slot = [], gaps[0]
        for f in range(c):
            spans.append(slots_to_frames(rng, idx, total, slot, slot + 2))
            slot += 2 + 1 + gaps[f + 1]  # a flash, then at least one sampled frame without it
        objects.append(_in_cell(rng, cfg, shape, int(cell), spans, move=False))
        counts.append(c)
    target = objects[0]
    template = str(rng.choice(["How many times does the {o} appear?", "How many times does the {o} flash?"]))
    row = _videor1_row(name, "counting", template.format(o=target.shape.name), "numerical", [], counts[0])
    return Sample(_scene(rng, cfg, fps, total, objects), "videor1", [row], {"count": counts[0]})


def gen_temporal_grounding(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """ "When is the red square visible?": 1-2 shapes (`grounding_objects`), one query sentence each
    (charades_json)."""
    fps, total, idx = _timing(rng, cfg)
    k = cfg.frames
    n = int(rng.integers(cfg.grounding_objects[0], cfg.grounding_objects[1] + 1))
    shapes, cells = _shapes(rng, n, cfg), rng.permutation(4)
    objects = []
    for shape, cell in zip(shapes, cells):
        length = int(rng.integers(2, min(5, k - 1) + 1))
        a = int(rng.integers(0, k - length + 1))
        span = slots_to_frames(rng, idx, total, a, a + length)
        objects.append(_in_cell(rng, cfg, shape, int(cell), [span], move=True))
    templates = ["the {o} is visible", "a {o} appears on the screen", "the {o} shows up"]
    row = {
        "video_id": name,
        "duration": _round(total / fps),
        "timestamps": [_seconds(o, fps) for o in objects],
        "sentences": [str(rng.choice(templates)).format(o=o.shape.name) for o in objects],
    }
    scene = _scene(rng, cfg, fps, total, objects)
    return Sample(scene, "charades_json", [row], {"intervals": row["timestamps"]})


def _tracking_scene(rng: np.random.Generator, cfg: SynthConfig) -> tuple[Scene, SceneObject, list[int]]:
    fps, total, idx = _timing(rng, cfg)
    shapes = _shapes(rng, 2, cfg)
    target = _free_mover(rng, cfg, shapes[0], [(0, total)], min_travel=0.3)
    objects = [target]
    if rng.random() < 0.5:  # a static distractor of another colour, drawn beneath the target
        distractor = _free_mover(rng, cfg, shapes[1], [(0, total)], min_travel=0.0)
        objects.insert(0, dataclasses.replace(distractor, end=distractor.start))
    return _scene(rng, cfg, fps, total, objects), target, idx


def gen_tracking(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """A moving shape; its normalised boxes on the ``frames`` sampled frames (got10k_json)."""
    scene, target, idx = _tracking_scene(rng, cfg)
    boxes = [[_round(v) for v in scene.normalised_box(target, j)] for j in idx]
    row = {"path": f"{name}.mp4", "object": target.shape.name, "boxes": boxes, "nframes": cfg.frames}
    return Sample(scene, "got10k_json", [row], {"boxes": boxes, "indices": idx})


def gen_tracking_sequence(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """The same kind of scene, written as a GOT-10k sequence folder (boxes in px on every frame)."""
    scene, target, _ = _tracking_scene(rng, cfg)
    xywh = []
    for j in range(scene.total_frames):
        x0, y0, x1, y1 = target.box(j)
        xywh.append((float(x0), float(y0), float(x1 - x0), float(y1 - y0)))
    return Sample(scene, "got10k_dir", [{"sequence": name, "object": target.shape.name, "xywh": xywh}])


def gen_grounding_qa(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """ "Which shape appears right after the red square?" with 5 options and the answer's interval
    (nextgqa_json). Shapes are shown one after another, 2 sampled frames each."""
    fps, total, idx = _timing(rng, cfg)
    k = cfg.frames
    n = int(rng.integers(3, min(4, k // 2) + 1))
    shapes = _shapes(rng, n, cfg)
    gaps = _composition(rng, k - 2 * n, n + 1)
    objects, slot = [], gaps[0]
    for i, shape in enumerate(shapes):
        span = slots_to_frames(rng, idx, total, slot, slot + 2)
        objects.append(_in_cell(rng, cfg, shape, int(rng.integers(4)), [span], move=True))
        slot += 2 + gaps[i + 1]
    if rng.random() < 0.5:
        a = int(rng.integers(0, n - 1))
        anchor, answer = objects[a], objects[a + 1]
        question = f"Which shape appears right after the {anchor.shape.name} disappears?"
    else:
        a = int(rng.integers(1, n))
        anchor, answer = objects[a], objects[a - 1]
        question = f"Which shape is shown just before the {anchor.shape.name} appears?"
    # 5 options: every shape in the video plus absent ones (colours not used in the video)
    used = {o.shape.colour for o in objects}
    absent = [c for c in PALETTE if c not in used]
    extra = [Shape(str(rng.choice(SHAPES)), str(c)) for c in rng.choice(absent, size=5 - n, replace=False)]
    names = [o.shape.name for o in objects] + [s.name for s in extra]
    names = [names[i] for i in rng.permutation(5)]
    letter = LETTERS[names.index(answer.shape.name)]
    row = {
        "video": f"{name}.mp4",
        "question": question,
        "options": names,
        "answer": letter,
        "duration": _round(total / fps),
        "glue": [_seconds(answer, fps)],
    }
    return Sample(_scene(rng, cfg, fps, total, objects), "nextgqa_json", [row], {"letter": letter})


QUALITY_QUESTION = 'Is this a high-quality or a low-quality video? Answer "high quality" or "low quality".'


def gen_quality(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """Clean vs degraded (noise, blur, blocking, frozen frames) videos of moving shapes (quality_json)."""
    fps, total, idx = _timing(rng, cfg)
    shapes = _shapes(rng, 2, cfg)
    objects = [_free_mover(rng, cfg, s, [(0, total)], min_travel=0.4) for s in shapes]
    degradation = None
    if rng.random() < 0.5:
        kind = str(rng.choice(["noise", "blur", "blocking", "freeze"]))
        scale = cfg.size / 112
        step = (total - 1) / (cfg.frames - 1)  # frames between sampled frames
        strength = {
            "noise": float(rng.uniform(25, 40)),
            "blur": float(rng.uniform(1.5, 2.5) * scale),
            "blocking": float(max(4, round(8 * scale))),
            "freeze": float(int(np.ceil(2.5 * step))),  # >= 2 consecutive sampled frames identical
        }[kind]
        degradation = Degradation(kind, strength)
    answer = "low quality" if degradation else "high quality"
    row = {"video": f"{name}.mp4", "question": QUALITY_QUESTION, "answer": answer}
    scene = _scene(rng, cfg, fps, total, objects, degradation=degradation)
    return Sample(scene, "quality_json", [row], {"answer": answer})


def gen_caption(rng: np.random.Generator, cfg: SynthConfig, name: str) -> Sample:
    """The ordered list of appear/disappear events of 2-3 shapes (caption_json)."""
    fps, total, idx = _timing(rng, cfg)
    k = cfg.frames
    n = int(rng.integers(2, 4))
    shapes, cells = _shapes(rng, n, cfg), rng.permutation(4)
    # distinct start and end slots, so no two events of one kind happen at the same moment
    for _ in range(1000):
        lengths = rng.integers(2, min(4, k - 1) + 1, size=n)
        starts = np.asarray([int(rng.integers(1, k - L + 1)) for L in lengths])
        ends = starts + lengths
        if len(set(starts.tolist())) == n and len(set(ends.tolist())) == n:
            break
    objects, events = [], []
    for i, (shape, cell) in enumerate(zip(shapes, cells)):
        j0, j1 = slots_to_frames(rng, idx, total, int(starts[i]), int(ends[i]))
        obj = _in_cell(rng, cfg, shape, int(cell), [(j0, j1)], move=False)
        objects.append(obj)
        events.append((j0, 1, i, f"a {shape.name} appears at the {CELLS[int(cell)]}"))
        if j1 < total:
            events.append((j1, 0, i, f"the {shape.name} disappears"))
    events.sort()
    row = {"video": f"{name}.mp4", "duration": _round(total / fps), "events": [e[3] for e in events]}
    return Sample(_scene(rng, cfg, fps, total, objects), "caption_json", [row], {"events": row["events"]})


_TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec("temporal_grounding", "tg", "charades_json", gen_temporal_grounding),
        TaskSpec("tracking", "track", "got10k_json", gen_tracking),
        TaskSpec("multiple_choice", "order", "videor1", gen_temporal_order),
        TaskSpec("numerical", "count", "videor1", gen_counting),
        TaskSpec("grounding_qa", "gqa", "nextgqa_json", gen_grounding_qa),
        TaskSpec("quality", "quality", "quality_json", gen_quality),
        TaskSpec("caption", "caption", "caption_json", gen_caption),
    )
}
#: GOT-10k frame folders ride along with tracking; not a task of their own.
GOT10K_SEQUENCE = TaskSpec("tracking", "got", "got10k_dir", gen_tracking_sequence)

TASK_NAMES: tuple[str, ...] = tuple(_TASKS)


def get_task(name: str) -> TaskSpec:
    """The generator of a canonical task name; the error lists the valid ones."""
    try:
        return _TASKS[name]
    except KeyError:
        raise KeyError(f"unknown synthetic task {name!r}; valid tasks: {', '.join(TASK_NAMES)}") from None
