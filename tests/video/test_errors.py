"""Every unreadable input becomes one VideoDecodeError naming the file and the reason."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from videorft.video import FrameBudget, VideoDecodeError, load_image, load_video, probe_video
from videorft.video.synth import render_test_video


def _expect(path: Path, reason: str, fn=load_video, **kwargs) -> VideoDecodeError:
    with pytest.raises(VideoDecodeError) as info:
        fn(path, **kwargs)
    err = info.value
    assert err.path == str(path) and str(path) in str(err)
    assert reason in err.reason, err.reason
    return err


@pytest.fixture(scope="module")
def good_mp4(tmp_path_factory) -> Path:
    return render_test_video(tmp_path_factory.mktemp("good") / "ok.mp4", 60, 64, 96, gop=12)


def test_missing_file(tmp_path):
    _expect(tmp_path / "nope.mp4", "not found")
    _expect(tmp_path / "nope.mp4", "not found", probe_video)


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    _expect(tmp_path / "empty.mp4", "empty file")
    _expect(tmp_path / "empty.mp4", "empty file", probe_video)


def test_garbage_bytes(tmp_path):
    path = tmp_path / "garbage.mp4"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _expect(path, "not a readable media file")


def test_truncated_mp4(tmp_path, good_mp4):
    # moov (the index) is written last: cutting the file loses it.
    data = good_mp4.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 2])
    _expect(tmp_path / "cut.mp4", "truncated")


def test_truncated_mkv_whose_first_half_still_decodes(tmp_path):
    full = render_test_video(tmp_path / "full.mkv", 90, 64, 96, gop=12)
    data = full.read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    _expect(tmp_path / "cut.mkv", "truncated")


def test_no_video_stream(tmp_path):
    path = tmp_path / "audio.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    _expect(path, "no video stream")


def test_zero_frame_video(tmp_path):
    path = tmp_path / "zero.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # header only, no packets
    _expect(path, "no frames")


def test_single_frame_video_cannot_make_a_frame_pair(tmp_path):
    path = render_test_video(tmp_path / "one.mp4", 1, 64, 64)
    _expect(path, "cannot sample")


def test_time_range_outside_the_video(good_mp4):
    _expect(good_mp4, "empty", budget=FrameBudget(video_start=10.0, video_end=20.0))


def test_unsupported_aspect_ratio(tmp_path):
    path = render_test_video(tmp_path / "thin.mp4", 4, 2, 420)  # 210:1 > 200:1
    _expect(path, "aspect ratio")


def test_folder_without_frames_and_corrupt_frame(tmp_path):
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "groundtruth.txt").write_text("1,2,3,4\n")
    _expect(tmp_path / "seq", "no image frames")
    Image.fromarray(np.zeros((56, 56, 3), np.uint8)).save(tmp_path / "seq" / "00000001.jpg")
    (tmp_path / "seq" / "00000002.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(VideoDecodeError) as info:
        load_video(tmp_path / "seq")
    # the error names the bad frame itself, not just its folder
    assert info.value.path == str(tmp_path / "seq" / "00000002.jpg")
    assert "unreadable image" in info.value.reason


def test_bad_image(tmp_path):
    (tmp_path / "x.png").write_bytes(os.urandom(100))
    _expect(tmp_path / "x.png", "unreadable image", load_image)
    _expect(tmp_path / "missing.png", "not found", load_image)


def test_error_survives_pickling_for_dataloader_workers():
    err = pickle.loads(pickle.dumps(VideoDecodeError("/a/b.mp4", "empty file")))
    assert (err.path, err.reason, str(err)) == ("/a/b.mp4", "empty file", "/a/b.mp4: empty file")
