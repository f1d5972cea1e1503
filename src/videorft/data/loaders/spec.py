"""Dataset specs (``FORMAT:PATH`` or a ``videorft_data.yaml`` manifest) and loading them."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, Unpack

from videorft.data.errors import DataError
from videorft.data.loaders.base import (
    FORMATS,
    HUB_PREFIX,
    LoadContext,
    LoadResult,
    LoadState,
    annotation_path,
    get_format,
    hub_id,
    is_table,
)
from videorft.data.loaders.media import ProbeCache

log = logging.getLogger("videorft.data")

MANIFEST_NAME = "videorft_data.yaml"


@dataclass(frozen=True)
class DataSource:
    """One annotation file (or folder) in a known format, with where its videos live."""

    format: str
    path: Path
    video_root: Path
    split: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    name: str
    path: Path
    splits: dict[str, list[DataSource]]


def read_manifest(path: str | os.PathLike[str], *, video_root: str | None = None) -> Manifest:
    """Parse a manifest; relative paths resolve against its folder (or ``video_root`` for videos)."""
    import yaml

    path = Path(path)
    if path.is_dir():
        path = path / MANIFEST_NAME
    fail = functools.partial(DataError, str(path), None)  # (field, reason) -> the error naming this file
    if not path.is_file():
        raise fail(None, "manifest not found")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        raise fail(None, f"invalid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("splits"), dict) or not doc["splits"]:
        raise fail("splits", "expected a mapping 'splits: {name: [entries]}'")
    base = path.parent
    media_base = Path(video_root) if video_root else base
    splits: dict[str, list[DataSource]] = {}
    for split, entries in doc["splits"].items():
        if not isinstance(entries, list):
            raise fail(f"splits.{split}", "expected a list of {format, path} entries")
        sources = []
        for i, entry in enumerate(entries):
            where = f"splits.{split}[{i}]"
            if not isinstance(entry, dict) or "format" not in entry or "path" not in entry:
                raise fail(where, f"expected {{format, path[, video_root]}}, got {entry!r:.80}")
            entry = dict(entry)
            fmt = str(entry.pop("format"))
            if fmt not in FORMATS:
                raise fail(f"{where}.format", f"unknown format {fmt!r}; valid: {', '.join(sorted(FORMATS))}")
            raw = str(entry.pop("path"))
            ann = annotation_path(raw) if raw.startswith(HUB_PREFIX) else base / raw
            root = entry.pop("video_root", None)
            vroot = media_base / str(root) if root is not None else _default_root(ann)
            _check_options(fmt, entry, str(path), where)
            sources.append(DataSource(fmt, ann, vroot, str(split), entry))
        splits[str(split)] = sources
    return Manifest(str(doc.get("name") or base.name), path, splits)


def _default_root(annotation: Path) -> Path:
    # a frame/sequence folder holds its media; a save_to_disk folder is a file in folder form
    return annotation if annotation.is_dir() and not is_table(annotation) else annotation.parent


def _check_options(fmt: str, options: dict[str, Any], file: str, where: str) -> None:
    valid = get_format(fmt).option_names()
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise DataError(file, None, where, f"unknown option(s) {unknown} for {fmt}; valid: {valid or 'none'}")


def resolve_spec(spec: str, *, split: str | None = None, video_root: str | None = None) -> list[DataSource]:
    """The data sources a spec names: ``FORMAT:PATH``, a manifest file, or a folder holding one."""
    fmt, sep, rest = spec.partition(":")
    if sep and fmt in FORMATS:
        ann = annotation_path(rest)
        # a hub dataset's videos are wherever the user put them (default: here)
        default_root = Path(".") if hub_id(ann) is not None else _default_root(ann)
        return [DataSource(fmt, ann, Path(video_root) if video_root else default_root, split)]
    p = Path(spec).expanduser()
    if p.is_dir() or p.suffix in (".yaml", ".yml"):
        manifest = read_manifest(p, video_root=video_root)
        if split is None:
            return [s for sources in manifest.splits.values() for s in sources]
        if split not in manifest.splits:
            raise DataError(
                str(manifest.path),
                None,
                "splits",
                f"no split {split!r}; splits: {', '.join(manifest.splits)}",
            )
        return manifest.splits[split]
    if sep:
        raise ValueError(
            f"unknown data format {fmt!r} in spec {spec!r}; valid formats: {', '.join(sorted(FORMATS))}"
        )
    raise ValueError(
        f"cannot tell the format of {spec!r}: give FORMAT:PATH (formats: {', '.join(sorted(FORMATS))}) "
        f"or a folder / {MANIFEST_NAME} manifest"
    )


class LoadOptions(TypedDict, total=False):
    """How strictly `load_spec` / `load_sources` check what they load."""

    skip_invalid: bool  # skip (and report in ``result.skipped``) bad records instead of raising
    check_videos: bool  # decode-probe every video/image (unreadable ones are errors or skips)
    require_videos: bool  # False: do not even check that media files exist (annotations only)
    allow_outside_root: bool  # let relative media paths leave the dataset root through ``..``
    probe_cache: ProbeCache | None  # reuse (and record) the probes of ``check_videos`` across loads


def load_sources(
    sources: list[DataSource], *, options: dict[str, Any] | None = None, **load: Unpack[LoadOptions]
) -> LoadResult:
    """Load every source into one result (``options``: format options); ids are unique across all."""
    probe_cache = load.pop("probe_cache", None)
    state = LoadState(probe_cache.probe) if probe_cache is not None else LoadState()
    result = LoadResult()
    for src in sources:
        fmt = get_format(src.format)
        opts = {**src.options, **(options or {})}
        _check_options(src.format, opts, str(src.path), "options")
        ctx = LoadContext(str(src.path), src.video_root, state=state, split=src.split, **load)
        records = fmt.loader(src.path, ctx, **opts)
        if src.split is not None:
            for r in records:
                r.meta["split"] = src.split
        result.records += records
        result.skipped += ctx.skipped
    result.media = dict(state.media)
    if probe_cache is not None:
        probe_cache.save()
    result.absolute_paths = list(state.absolute_paths)
    if result.skipped:
        # Never silent: even a caller that ignores `skipped` leaves a trace in the log.
        log.warning(
            "skipped %d invalid item(s); first: %s (LoadResult.summary() lists them)",
            len(result.skipped),
            result.skipped[0],
        )
    return result


def load_spec(
    spec: str, *, split: str | None = None, video_root: str | None = None, **load: Unpack[LoadOptions]
) -> LoadResult:
    """Load a dataset spec (`resolve_spec`) into records."""
    return load_sources(resolve_spec(spec, split=split, video_root=video_root), **load)
