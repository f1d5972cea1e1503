"""Unit tests of the synthetic suite's scene model, renderer and task generators (no files)."""

from __future__ import annotations

import numpy as np
import pytest

from videorft.data.synth import SynthConfig, get_task, sample_indices, split_sizes
from videorft.data.synth.render import degrade, render_frames, shape_mask
from videorft.data.synth.scene import Background, Degradation, Scene, SceneObject, Shape
from videorft.data.synth.tasks import _composition, slots_to_frames


def test_sample_indices_match_torch_linspace_round() -> None:
    import torch  # a core dependency: the oracle must be there

    for total in range(8, 160, 3):
        for k in (2, 4, 5, 8, 16):
            if k <= total:
                assert sample_indices(total, k) == torch.linspace(0, total - 1, k).round().long().tolist()


@pytest.mark.parametrize("kind", ["square", "circle", "triangle"])
@pytest.mark.parametrize("size", [14, 15, 28, 33])
def test_shape_masks_fill_their_box(kind: str, size: int) -> None:
    mask = shape_mask(kind, size)
    # the tracking ground truth is the sprite box, so every shape must touch all four sides
    assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
    assert 0.3 < mask.mean() <= 1.0


def test_slots_to_frames_shows_exactly_the_chosen_sampled_frames() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        total, k = int(rng.integers(16, 121)), int(rng.choice([4, 8, 16]))
        total = max(total, 2 * k)
        idx = sample_indices(total, k)
        a = int(rng.integers(0, k))
        b = int(rng.integers(a + 1, k + 1))
        j0, j1 = slots_to_frames(rng, idx, total, a, b)
        on = [j0 <= j < j1 for j in idx]
        assert on == [a <= s < b for s in range(k)], (total, k, a, b, j0, j1)


def test_composition_sums_and_covers_all_splits() -> None:
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(400):
        parts = _composition(rng, 3, 3)
        assert sum(parts) == 3 and min(parts) >= 0
        seen.add(tuple(parts))
    assert len(seen) == 10  # C(5, 2) ways to split 3 into 3 parts


def test_render_paints_objects_exactly_in_their_box_while_visible() -> None:
    obj = SceneObject(Shape("square", "red"), 10, ((2, 5),), (4.0, 6.0), (20.0, 6.0))
    scene = Scene(48, 32, 5, 8, Background("plain", (50, 50, 50)), (obj,))
    frames = render_frames(scene)
    assert frames.shape == (8, 32, 48, 3)
    for j in range(8):
        red = np.all(frames[j] == (230, 40, 40), axis=-1)
        if not obj.visible(j):
            assert not red.any()
            continue
        ys, xs = np.nonzero(red)
        assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == obj.box(j)
    assert obj.box(2)[0] == 4 and obj.box(4)[0] == 20  # linear motion from start to end
    assert obj.interval(0, scene.fps) == (0.4, 1.0)


def _edge_energy(frames: np.ndarray) -> float:
    return float((np.diff(frames.astype(float), axis=2) ** 2).sum())


def test_degradations_do_what_they_say() -> None:
    rng = np.random.default_rng(0)
    obj = SceneObject(Shape("circle", "blue"), 16, ((0, 12),), (0.0, 0.0), (40.0, 30.0))
    clean = render_frames(Scene(64, 64, 6, 12, Background("plain", (90, 90, 90)), (obj,)))
    noisy = degrade(clean, Degradation("noise", 30), rng)
    assert 20 < np.std(noisy.astype(float) - clean) < 40
    blurred = degrade(clean, Degradation("blur", 2), rng)
    # blur keeps the total variation across an edge but spreads it out: the squared gradient drops
    assert _edge_energy(blurred) < 0.5 * _edge_energy(clean)
    blocks = degrade(clean, Degradation("blocking", 8), rng)
    assert (blocks[:, ::8, ::8] == blocks[:, 7::8, 7::8]).all()  # constant 8x8 blocks
    frozen = degrade(clean, Degradation("freeze", 3), rng)
    assert (
        (frozen[1] == frozen[0]).all()
        and (frozen[2] == frozen[0]).all()
        and not (frozen[3] == frozen[0]).all()
    )


def test_every_generator_places_its_objects_inside_the_frame_and_the_events_on_sampled_frames() -> None:
    cfg = SynthConfig()
    for name in ("temporal_grounding", "tracking", "multiple_choice", "numerical", "grounding_qa", "caption"):
        for i in range(20):
            sample = get_task(name).generate(np.random.default_rng([5, i]), cfg, f"x{i}")
            scene = sample.scene
            idx = sample_indices(scene.total_frames, cfg.frames)
            assert 4.0 <= scene.duration <= 12.5 and 4 <= scene.fps <= 10
            for obj in scene.objects:
                for j in range(scene.total_frames):
                    x0, y0, x1, y1 = obj.box(j)
                    assert 0 <= x0 and 0 <= y0 and x1 <= scene.width and y1 <= scene.height
                # >= 14 px once the demo shrinks 112 px frames to 56 px
                assert obj.size >= 0.22 * cfg.size
                for j0, j1 in obj.spans:
                    assert sum(j0 <= j < j1 for j in idx) >= 2, (name, i, obj.spans, idx)


def test_temporal_order_shapes_never_overlap_in_time_and_last_equally_long() -> None:
    cfg = SynthConfig()
    for i in range(50):
        sample = get_task("multiple_choice").generate(np.random.default_rng(i), cfg, "v")
        idx = sample_indices(sample.scene.total_frames, cfg.frames)
        shown = [[obj.visible(j) for j in idx] for obj in sample.scene.objects]
        assert len({sum(s) for s in shown}) == 1  # no counting shortcut
        assert all(sum(col) <= 1 for col in zip(*shown))  # one shape at a time
        assert 2 <= len(shown) <= 4


def test_shape_scale_and_colours_reach_the_scene() -> None:
    cfg = SynthConfig(colours=("red", "blue"), shape_scale=2.0, order_choices=(2, 2))
    for i in range(20):
        sample = get_task("multiple_choice").generate(np.random.default_rng(i), cfg, "v")
        assert {o.shape.colour for o in sample.scene.objects} == {"red", "blue"}
        # twice the default size, capped at the 2x2 grid cell (half the frame, less a 2 px margin)
        assert all(o.size == cfg.size // 2 - 2 for o in sample.scene.objects)
    # counting draws up to 3 shapes of distinct colours: two colours cannot render every video
    with pytest.raises(ValueError, match="needs 3 distinct colours"):
        for i in range(50):
            get_task("numerical").generate(np.random.default_rng(i), cfg, "c")


def test_quality_label_follows_the_degradation() -> None:
    labels = []
    for i in range(40):
        s = get_task("quality").generate(np.random.default_rng(i), SynthConfig(), "q")
        assert s.rows[0]["answer"] == ("low quality" if s.scene.degradation else "high quality")
        labels.append(s.rows[0]["answer"])
    assert 10 <= labels.count("low quality") <= 30


def test_split_sizes() -> None:
    assert split_sizes(200) == {"train": 160, "val": 20, "test": 20}
    assert split_sizes(10) == {"train": 8, "val": 1, "test": 1}
    assert split_sizes(3) == {"train": 1, "val": 1, "test": 1}
    assert split_sizes(2) == {"train": 2, "val": 0, "test": 0}
    with pytest.raises(ValueError, match="n must be >= 1"):
        split_sizes(0)


def test_bad_options_and_task_names_give_clear_errors() -> None:
    with pytest.raises(KeyError, match="valid tasks: temporal_grounding, tracking"):
        get_task("counting")
    with pytest.raises(ValueError, match="size must be even"):
        SynthConfig(size=101)
    with pytest.raises(ValueError, match="frames must be even"):
        SynthConfig(frames=7)
    with pytest.raises(ValueError, match="order_choices"):
        SynthConfig(order_choices=(2, 5))
    with pytest.raises(ValueError, match="count_max"):
        SynthConfig(count_max=4)
    with pytest.raises(ValueError, match="order_questions"):
        SynthConfig(order_questions=("middle",))
    with pytest.raises(ValueError, match="order_names"):
        SynthConfig(order_names="size")
    with pytest.raises(ValueError, match="order_options"):
        SynthConfig(order_options="sorted")
    with pytest.raises(ValueError, match="colours must be"):
        SynthConfig(colours=("red", "pink"))
    with pytest.raises(ValueError, match="colours must be"):
        SynthConfig(colours=("red", "blue"), order_choices=(2, 3))
    with pytest.raises(ValueError, match="shape_scale"):
        SynthConfig(shape_scale=5.0)
    with pytest.raises(TypeError, match="valid options: .*order_choices"):
        SynthConfig.from_options(colour="red")
