"""Frame folders (GOT-10k style) share the video sampling API; images resize like qwen-vl-utils."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from videorft.video import (
    DEFAULT_FOLDER_FPS,
    FrameBudget,
    load_image,
    load_video,
    probe_video,
    sample_indices,
)
from videorft.video.synth import pattern_frame, read_pattern_index


@pytest.fixture(scope="module")
def got10k_sequence(tmp_path_factory) -> Path:
    """45 frames 00000001.jpg ... (4.5 s at GOT-10k's 10 fps) plus its annotation file."""
    seq = tmp_path_factory.mktemp("got10k") / "GOT-10k_Train_000001"
    seq.mkdir()
    for i in range(45):
        Image.fromarray(pattern_frame(i, 120, 200)).save(seq / f"{i + 1:08d}.jpg", quality=95)
    (seq / "groundtruth.txt").write_text("10,10,20,20\n" * 45)
    return seq


def test_folder_sampling_follows_the_video_rules(got10k_sequence):
    clip = load_video(got10k_sequence)  # 4.5 s at 2 fps -> 9 -> 8 frames
    expected, fps = sample_indices(45, DEFAULT_FOLDER_FPS, FrameBudget())
    assert clip.indices == expected and len(expected) == 8
    assert clip.fps == pytest.approx(fps) and clip.source_fps == DEFAULT_FOLDER_FPS
    assert clip.timestamps == pytest.approx([i / 10 for i in expected])
    assert clip.duration == pytest.approx(4.5)
    assert clip.frames.shape[1] % 28 == 0 and clip.frames.shape[2] % 28 == 0
    assert [read_pattern_index(f) for f in clip.frames] == expected


def test_folder_fps_override_and_time_range(got10k_sequence):
    clip = load_video(got10k_sequence, FrameBudget(video_start=1.0, video_end=3.0), folder_fps=5.0)
    # at 5 fps the 45 frames last 9 s; 1..3 s = frames 5..15 (11 frames) -> 2.2 s x 2 fps -> 4
    assert clip.indices == [5, 8, 12, 15]
    assert clip.timestamps == pytest.approx([1.0, 1.6, 2.4, 3.0])


def test_folder_frames_are_the_pil_resized_images(got10k_sequence):
    clip = load_video(got10k_sequence, FrameBudget(nframes=2, min_pixels=16 * 784, max_pixels=16 * 784))
    h, w = clip.frames.shape[1:3]
    first = Image.open(got10k_sequence / "00000001.jpg").convert("RGB")
    assert np.array_equal(clip.frames[0], np.asarray(first.resize((w, h), Image.Resampling.BICUBIC)))


def test_probe_folder(got10k_sequence):
    info = probe_video(got10k_sequence)
    assert (info.n_frames, info.width, info.height, info.codec) == (45, 200, 120, "images")
    assert info.duration == pytest.approx(4.5)
    assert probe_video(got10k_sequence, folder_fps=30.0).duration == pytest.approx(1.5)


def test_load_image_matches_qwen_vl_utils_fetch_image(tmp_path):
    from qwen_vl_utils import (
        vision_process as vp,
        # the oracle is a pinned dev dependency: without it this fails (a broken install), never skips
    )

    rgba = np.zeros((150, 260, 4), np.uint8)
    rgba[..., :3] = pattern_frame(7, 150, 260)
    rgba[..., 3] = np.linspace(0, 255, 260, dtype=np.uint8)[None, :]  # transparency -> white background
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    Image.fromarray(pattern_frame(3, 1000, 1500)).save(tmp_path / "b.jpg")
    for name, kwargs in [("a.png", {}), ("b.jpg", {}), ("b.jpg", {"max_pixels": 256 * 784})]:
        ours = load_image(tmp_path / name, **kwargs)
        theirs = np.asarray(vp.fetch_image({"image": str(tmp_path / name), **kwargs}))
        assert ours.shape == theirs.shape and ours.dtype == np.uint8
        assert np.array_equal(ours, theirs)
