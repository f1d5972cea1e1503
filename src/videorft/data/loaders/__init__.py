"""Loaders for the real annotation formats; a spec is ``FORMAT:PATH``, a ``videorft_data.yaml``
manifest, or a folder holding one. See docs/data.md."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Unpack

# Importing the format modules registers them.
from videorft.data.loaders import charades, got10k, nextgqa, simple, videor1  # noqa: F401
from videorft.data.loaders.base import FORMATS, LoadResult, get_format
from videorft.data.loaders.hf import decode_solution, record_from_row, to_hf_dataset
from videorft.data.loaders.media import ProbeCache
from videorft.data.loaders.spec import DataSource, LoadOptions, load_sources, load_spec
from videorft.data.record import Record


def list_formats() -> list[str]:
    return sorted(FORMATS)


def load_file(
    format: str,
    path: str | os.PathLike[str],
    *,
    video_root: str | os.PathLike[str] | None = None,
    skip_invalid: bool = False,
    check_videos: bool = False,
    require_videos: bool = True,
    **options: object,
) -> LoadResult:
    """Load one annotation file (or folder) in a named format, with format options (e.g. ``gsub=``)."""
    p = Path(path)
    root = Path(video_root) if video_root else (p if p.is_dir() else p.parent)
    src = DataSource(get_format(format).name, p, root)
    return load_sources(
        [src],
        skip_invalid=skip_invalid,
        check_videos=check_videos,
        require_videos=require_videos,
        options=options,
    )


def load_records(
    spec: str, *, split: str | None = None, video_root: str | None = None, **load: Unpack[LoadOptions]
) -> list[Record]:
    """`load_spec` returning the records only (skips are still logged as a warning)."""
    return load_spec(spec, split=split, video_root=video_root, **load).records


__all__ = [
    "LoadResult",
    "ProbeCache",
    "decode_solution",
    "get_format",
    "list_formats",
    "load_file",
    "load_records",
    "load_spec",
    "record_from_row",
    "to_hf_dataset",
]
