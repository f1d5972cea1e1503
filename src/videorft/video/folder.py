"""Images and folders of image frames (GOT-10k style: 00000001.jpg, 00000002.jpg, ...)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from videorft.files import IMAGE_SUFFIXES
from videorft.video.budget import IMAGE_FACTOR, IMAGE_MAX_PIXELS, IMAGE_MIN_PIXELS, smart_resize
from videorft.video.decode import VideoInfo, check_file
from videorft.video.errors import VideoDecodeError, unreadable

#: GOT-10k annotates (and ships) its sequences at 10 frames per second.
DEFAULT_FOLDER_FPS = 10.0
#: PIL's bicubic is antialiased when shrinking; it is what qwen-vl-utils uses for images.
RESAMPLE = Image.Resampling.BICUBIC


def list_frames(folder: str | Path) -> list[Path]:
    """Image files of a frame folder in name order (zero-padded names sort numerically)."""
    p = Path(folder)
    files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise VideoDecodeError(p, f"folder has no image frames ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def open_rgb(path: str | Path) -> Image.Image:
    """An image file as RGB (transparent areas on white, as qwen-vl-utils does)."""
    p = check_file(path)
    if p.is_dir():
        raise VideoDecodeError(p, "is a folder, not an image")
    try:
        with Image.open(p) as img:
            img.load()
            if img.mode == "RGBA":
                rgb = Image.new("RGB", img.size, (255, 255, 255))
                rgb.paste(img, mask=img.split()[3])
                return rgb
            return img.convert("RGB")
    except Image.DecompressionBombError as exc:
        # PIL refuses images over 2 x Image.MAX_IMAGE_PIXELS (a decompression bomb): one bad file, not a crash.
        raise VideoDecodeError(p, f"image too large to open safely ({exc})") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        # PIL reports truncated/corrupt data as OSError/SyntaxError/ValueError depending on the format.
        raise VideoDecodeError(p, f"unreadable image ({exc})") from None


def load_image(
    path: str | Path, min_pixels: int = IMAGE_MIN_PIXELS, max_pixels: int = IMAGE_MAX_PIXELS
) -> np.ndarray:
    """An image as (H, W, 3) uint8, resized like qwen-vl-utils' ``fetch_image`` (sides multiples of 28)."""
    img = open_rgb(path)
    with unreadable(path):
        height, width = smart_resize(img.height, img.width, IMAGE_FACTOR, min_pixels, max_pixels)
    return np.asarray(img.resize((width, height), RESAMPLE))


def probe_folder(folder: str | Path, fps: float = DEFAULT_FOLDER_FPS) -> VideoInfo:
    """VideoInfo of a frame folder: frame count, size of its first frame, and the given fps."""
    files = list_frames(folder)
    first = open_rgb(files[0])
    return VideoInfo(str(folder), len(files) / fps, fps, len(files), first.width, first.height, "images")


def read_frames(files: list[Path], height: int, width: int) -> np.ndarray:
    """The given image files resized to (height, width), as (T, H, W, 3) uint8."""
    out = np.empty((len(files), height, width, 3), np.uint8)
    for j, f in enumerate(files):
        img = open_rgb(f)
        out[j] = np.asarray(img if img.size == (width, height) else img.resize((width, height), RESAMPLE))
    return out
