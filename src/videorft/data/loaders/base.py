"""Shared loader machinery: the format registry, per-file load context, field validators."""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

from videorft.data.errors import DataError, FieldError, SkipReport
from videorft.data.loaders.media import MediaError, MediaInfo, probe_media
from videorft.data.record import Record
from videorft.rewards.solutions import SolutionError, check_inside_video

# A loader reads one annotation file (or folder) and returns its valid records.
LoaderFn = Callable[..., list[Record]]


@dataclass(frozen=True)
class Format:
    """A registered annotation format."""

    name: str
    loader: LoaderFn
    tasks: tuple[str, ...]
    description: str

    def option_names(self) -> list[str]:
        params = list(inspect.signature(self.loader).parameters.values())[2:]  # skip (path, ctx)
        return [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]


FORMATS: dict[str, Format] = {}


def register_format(name: str, *, tasks: tuple[str, ...]) -> Callable[[LoaderFn], LoaderFn]:
    """Register a loader under ``name``; its docstring is the format's description."""

    def deco(fn: LoaderFn) -> LoaderFn:
        if name in FORMATS:
            raise ValueError(f"format {name!r} registered twice")
        FORMATS[name] = Format(name, fn, tasks, inspect.getdoc(fn) or "")
        return fn

    return deco


def get_format(name: str) -> Format:
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(
            f"unknown data format {name!r}; valid formats: {', '.join(sorted(FORMATS))}"
        ) from None


@dataclass
class LoadResult:
    """Records of a load plus every record/video that was skipped (``skip_invalid=True``)."""

    records: list[Record] = field(default_factory=list)
    skipped: list[SkipReport] = field(default_factory=list)
    media: dict[str, MediaInfo] = field(default_factory=dict)  # path -> probe (check_videos=True)
    absolute_paths: list[str] = field(default_factory=list)  # allowed; `data stats` reports them

    def task_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.task for r in self.records).items()))

    def summary(self, max_skips: int = 20) -> str:
        """Counts per task, then every skipped item (the first ``max_skips`` in full)."""
        counts = ", ".join(f"{t}={n}" for t, n in self.task_counts().items()) or "none"
        lines = [f"loaded {len(self.records)} records ({counts}); skipped {len(self.skipped)}"]
        if self.skipped:
            by_field = Counter(s.field or "-" for s in self.skipped)
            lines.append("skipped by field: " + ", ".join(f"{k}={v}" for k, v in sorted(by_field.items())))
            lines += [f"  {s}" for s in self.skipped[:max_skips]]
            if len(self.skipped) > max_skips:
                lines.append(f"  ... and {len(self.skipped) - max_skips} more")
        return "\n".join(lines)


@dataclass
class LoadState:
    """State shared by every file of one load: ids seen, probe results, absolute media paths."""

    probe: Callable[[Path], MediaInfo] = probe_media  # a ProbeCache's probe reuses earlier loads' probes
    seen_ids: Counter[str] = field(default_factory=Counter)
    media: dict[str, MediaInfo] = field(default_factory=dict)
    media_errors: dict[str, str] = field(default_factory=dict)
    absolute_paths: dict[str, None] = field(default_factory=dict)  # ordered set


@dataclass
class LoadContext:
    """Everything a loader needs about the file it reads: where videos live, how strict to be."""

    file: str  # a hub dataset is normalised to ``hf://org/name``
    video_root: Path
    _: KW_ONLY
    skip_invalid: bool = False
    check_videos: bool = False
    require_videos: bool = True
    allow_outside_root: bool = False
    state: LoadState = field(default_factory=LoadState)
    unit: str = "record"
    split: str | None = None  # the split of a hub dataset / DatasetDict folder
    skipped: list[SkipReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        hub = hub_id(self.file)
        self.file = self.file if hub is None else HUB_PREFIX + hub

    def error(self, index: int | None, field: str | None, reason: str) -> DataError:
        return DataError(self.file, index, field, reason, unit=self.unit)

    @contextmanager
    def item(self, index: int) -> Iterator[None]:
        """Turn a `FieldError` into a `DataError` naming file and index (``skip_invalid``: record it)."""
        try:
            yield
        except (FieldError, DataError) as exc:  # anything else is a bug: its traceback goes through
            err = self.error(index, exc.field, exc.reason) if isinstance(exc, FieldError) else exc
            if not self.skip_invalid:
                raise err from None
            self.skipped.append(err.to_skip())

    def records(self, rows: Iterable[Any], parse: Callable[[dict[str, Any], int], Record]) -> list[Record]:
        """``parse`` of each JSON object of ``rows`` under `item`, `finish`ed."""
        records: list[Record] = []
        for i, raw in enumerate(rows):
            with self.item(i):
                records.append(self.finish(i, parse(require_dict(raw), i)))
        return records

    def finish(self, index: int, record: Record) -> Record:
        """Stamp provenance and a load-wide unique id on a parsed record."""
        # Real data repeats ids (Charades-STA: same video, several queries); keep the first as is.
        seen = self.state.seen_ids
        seen[record.id] += 1
        if seen[record.id] > 1:
            record.id = f"{record.id}#{seen[record.id]}"
        record.meta.setdefault("source_file", self.file)
        record.meta.setdefault("source_index", index)
        return record

    def resolve(self, raw: str, field: str | None = None) -> Path:
        p = Path(raw)
        if not p.is_absolute() and ".." in p.parts and not self.allow_outside_root:
            root = os.path.normpath(self.video_root)
            inside = os.path.normpath(self.video_root / raw)
            if os.path.commonpath([os.path.abspath(root), os.path.abspath(inside)]) != os.path.abspath(root):
                raise FieldError(
                    field,
                    f"relative path {raw!r} leaves the dataset root {root} through '..'; allow it with "
                    "allow_outside_root (--allow-outside-root)",
                )
        if p.is_absolute():
            self.state.absolute_paths[raw] = None
            # Annotations made on another machine carry absolute paths (VideoChat-R1's GOT json);
            # fall back to the same name under the video root.
            if not p.exists() and (self.video_root / p.name).exists():
                return self.video_root / p.name
            return p
        return self.video_root / raw

    def media(self, raw: Any, field: str, *, kind: str = "video") -> str:
        """Resolve a video/image/frame-folder path and check that it exists (and decodes)."""
        if not isinstance(raw, str) or not raw.strip():
            raise FieldError(field, f"expected a non-empty path string, got {_show(raw)}")
        return self.media_path(self.resolve(raw.strip(), field), field, kind=kind)

    def media_path(self, path: Path, field: str, *, kind: str = "video") -> str:
        """`media` of a path the loader located itself (not re-rooted under the video root)."""
        key = str(path)
        if not self.require_videos:
            return key
        if not path.exists():
            raise FieldError(field, f"{kind} file not found: {path}")
        if self.check_videos:
            if key in self.state.media_errors:
                raise FieldError(field, self.state.media_errors[key])
            if key not in self.state.media:
                try:
                    self.state.media[key] = self.state.probe(path)
                except MediaError as exc:
                    self.state.media_errors[key] = f"unreadable {kind}: {exc}"
                    raise FieldError(field, self.state.media_errors[key]) from exc
        return key


# ---------------------------------------------------------------------------------------------
# Reading files


#: ``FORMAT:hf://org/name``: a Hugging Face hub dataset (``Path`` keeps one slash of the two).
HUB_PREFIX = "hf://"
_TABLE_SUFFIXES = (".parquet", ".arrow")


def hub_id(path: str | os.PathLike[str]) -> str | None:
    """``org/name`` of ``hf://org/name`` or of its ``hf:org/name`` Path (`annotation_path`), else None."""
    text = str(path)
    if text.startswith(HUB_PREFIX):
        return text[len(HUB_PREFIX) :]
    return text[3:] if text.startswith("hf:") else None


def annotation_path(raw: str) -> Path:
    """The ``Path`` of a spec's annotation part; a hub id becomes ``hf:<id>``."""
    hub = hub_id(raw) if raw.startswith(HUB_PREFIX) else None
    return Path("hf:" + hub) if hub is not None else Path(raw).expanduser()


def is_table(path: Path) -> bool:
    """A source `datasets` reads: a hub id, a Parquet/Arrow file, or a ``save_to_disk`` folder."""
    return (
        hub_id(path) is not None
        or (path.is_file() and path.suffix in _TABLE_SUFFIXES)
        or (path.is_dir() and any((path / n).is_file() for n in ("dataset_dict.json", "state.json")))
    )


def read_table(path: Path, ctx: LoadContext) -> list[dict[str, Any]]:
    """Rows (the JSON files' fields) of a hub dataset, Parquet/Arrow file or ``save_to_disk`` folder, read
    by `datasets` (its cache and offline mode); a DatasetDict takes ``ctx.split`` (default ``train``)."""
    import datasets

    hub = hub_id(path)
    try:
        if hub is not None:
            data = datasets.load_dataset(hub, split=ctx.split or "train")
        elif path.is_dir():
            data = datasets.load_from_disk(str(path))
        else:
            kind = "parquet" if path.suffix == ".parquet" else "arrow"
            data = datasets.load_dataset(kind, data_files=str(path), split="train")
    except (FileNotFoundError, ValueError, OSError, datasets.exceptions.DatasetNotFoundError) as exc:
        raise ctx.error(None, None, f"cannot read with datasets: {exc}") from None
    if isinstance(data, datasets.DatasetDict):
        split = ctx.split or "train"
        if split not in data:
            raise ctx.error(None, None, f"no split {split!r}; splits: {', '.join(data)}")
        data = data[split]
    return data.to_list()


def parse_json_text(text: str) -> Any:
    """JSON of ``text``; every way it can fail is a ValueError saying why (never a RecursionError)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ValueError("JSON nested too deeply to read") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ValueError(f"invalid JSON: {exc}") from None


def load_json_file(path: Path) -> Any:
    """A JSON file's value (a UTF-8 byte-order mark is stripped); ValueError / OSError say what is wrong."""
    return parse_json_text(path.read_text(encoding="utf-8-sig"))


def read_json(path: Path, ctx: LoadContext) -> Any:
    """A JSON file's value, a ``.jsonl`` file's rows (a torn line is an error of that line), or a table's."""
    if is_table(path):
        return read_table(path, ctx)
    if not path.is_file():
        raise ctx.error(None, None, "annotation file not found")
    try:
        if path.suffix == ".jsonl":
            return _read_jsonl(path, ctx)
        try:
            return parse_json_text(path.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            # JSON Lines under a .json name is what `datasets.Dataset.to_json` writes by default
            why = exc.__context__
            if not (isinstance(why, json.JSONDecodeError) and why.msg == "Extra data" and why.lineno >= 2):
                raise
        return _read_jsonl(path, ctx)
    except UnicodeDecodeError as exc:
        raise ctx.error(None, None, f"not UTF-8 text: {exc}") from None
    except ValueError as exc:
        raise ctx.error(None, None, str(exc)) from None


def _read_jsonl(path: Path, ctx: LoadContext) -> list[Any]:
    rows = []
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rows.append(parse_json_text(line))
            except ValueError as exc:
                reason = str(exc).replace(" at line 1 column", " at column")
                err = DataError(ctx.file, lineno, None, reason, unit="line")
                if not ctx.skip_invalid:
                    raise err from None
                ctx.skipped.append(err.to_skip())
    return rows


def read_json_list(path: Path, ctx: LoadContext) -> list[Any]:
    data = read_json(path, ctx)
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        # Video-R1's generate_cot_vllm.py / eval_bench.py write {"results": [...] (, "final_acc")}
        data = data["results"]
    if not isinstance(data, list):
        raise ctx.error(None, None, f"expected a JSON list of records, got {type(data).__name__}")
    return data


def read_json_dict(path: Path, ctx: LoadContext) -> dict[str, Any]:
    data = read_json(path, ctx)
    if isinstance(data, list) and is_table(path):
        # a table of the {video_id: annotation} formats has one row per video with its id in a column
        key = next((k for k in ("video_id", "id", "vid") if data and all(k in row for row in data)), None)
        if key is None:
            raise ctx.error(None, None, "expected a 'video_id' column (one row per video)")
        data = {str(row[key]): {k: v for k, v in row.items() if k != key} for row in data}
    if not isinstance(data, dict):
        raise ctx.error(
            None, None, f"expected a JSON object (video id -> annotation), got {type(data).__name__}"
        )
    return data


def read_csv_rows(
    path: Path, ctx: LoadContext, required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; the header must hold every ``required`` column."""
    if not path.is_file():
        raise ctx.error(None, None, "annotation file not found")
    with open(path, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ctx.error(None, None, f"CSV header lacks column(s) {missing}; header: {reader.fieldnames}")
        for row in reader:
            yield reader.line_num, row


# ---------------------------------------------------------------------------------------------
# Field validators: raise FieldError(field, reason); the item guard adds file and index.


def _show(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def require_dict(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise FieldError(None, f"expected a JSON object, got {type(item).__name__}: {_show(item)}")
    return item


def get_field(item: dict[str, Any], *keys: str) -> tuple[str, Any]:
    """The first present key of ``keys`` and its value (formats spell fields differently)."""
    for key in keys:
        if key in item and item[key] is not None:
            return key, item[key]
    raise FieldError(keys[0], "missing" + (f" (also looked for {', '.join(keys[1:])})" if keys[1:] else ""))


def get_str(item: dict[str, Any], *keys: str, allow_empty: bool = False) -> str:
    key, value = get_field(item, *keys)
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ids and answers are sometimes numbers in the JSON
    if not isinstance(value, str):
        raise FieldError(key, f"expected a string, got {type(value).__name__}: {_show(value)}")
    if not allow_empty and not value.strip():
        raise FieldError(key, "must not be empty")
    return value


def to_float(value: Any, field: str) -> float:
    if isinstance(value, bool):
        raise FieldError(field, f"expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FieldError(field, f"expected a number, got {_show(value)}") from None
    except OverflowError:  # an integer of hundreds of digits
        raise FieldError(field, f"number out of range, got {_show(value)}") from None
    if not math.isfinite(x):
        raise FieldError(field, f"expected a finite number, got {_show(value)}")
    return x


def get_duration(item: dict[str, Any], key: str = "duration") -> float:
    _, value = get_field(item, key)
    d = to_float(value, key)
    if d <= 0:
        raise FieldError(key, f"expected a positive duration in seconds, got {_show(value)}")
    return d


#: Starts this far before 0 s are annotation jitter (36 NExT-GQA test spans at -0.1/-0.2 s): clamped to 0.
NEGATIVE_START_TOLERANCE = 1.0


def parse_interval(value: Any, field: str) -> list[float]:
    """``[start, end]`` seconds with 0 <= start <= end (slightly negative starts clamped to 0)."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise FieldError(field, f"expected [start, end], got {_show(value)}")
    s, e = to_float(value[0], field), to_float(value[1], field)
    if s < -NEGATIVE_START_TOLERANCE or s > e or e < 0:
        raise FieldError(field, f"expected [start, end] with 0 <= start <= end, got {_show(value)}")
    return [max(s, 0.0), e]


def check_inside(interval: list[float], duration: float, field: str) -> None:
    """A span starting at or after the video's end cannot be localised (clipped, any late guess matches)."""
    try:
        check_inside_video((interval[0], interval[1]), duration, field)
    except SolutionError as exc:
        raise FieldError(field, exc.reason) from None


def parse_intervals(value: Any, field: str) -> list[list[float]]:
    if not isinstance(value, list) or not value:
        raise FieldError(field, f"expected a non-empty list of [start, end], got {_show(value)}")
    # A single flat [s, e] is a common hand-written slip; accept it.
    if len(value) == 2 and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return [parse_interval(value, field)]
    return [parse_interval(v, field) for v in value]


def parse_box(value: Any, field: str) -> list[float]:
    """A normalised ``[x0, y0, x1, y1]`` box inside [0, 1] with x0 <= x1, y0 <= y1."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        raise FieldError(field, f"expected a box [x0, y0, x1, y1], got {_show(value)}")
    box = [to_float(v, field) for v in value]
    if not all(0.0 <= v <= 1.0 for v in box) or box[0] > box[2] or box[1] > box[3]:
        raise FieldError(
            field,
            f"expected a normalised box with 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1, got {_show(value)}",
        )
    return box


LETTERS = "ABCDEFG"
_OPTION_PREFIX = re.compile(r"^\s*\(?([A-Ga-g])\s*[\).:]\s*")


def normalise_options(value: Any, field: str = "options", *, min_n: int = 2) -> list[str]:
    """Options as ``["A. text", "B. text", ...]`` whatever the input spelling ("(A) text", "text")."""
    if not isinstance(value, list) or not (min_n <= len(value) <= len(LETTERS)):
        raise FieldError(
            field, f"expected a list of {min_n}-{len(LETTERS)} option strings, got {_show(value)}"
        )
    out = []
    for i, opt in enumerate(value):
        if not isinstance(opt, str) or not opt.strip():
            raise FieldError(field, f"option {i} must be a non-empty string, got {_show(opt)}")
        m = _OPTION_PREFIX.match(opt)
        text = opt[m.end() :] if m and m.group(1).upper() == LETTERS[i] else opt
        out.append(f"{LETTERS[i]}. {text.strip()}")
    return out


def option_letter(value: Any, options: list[str], field: str) -> str:
    """The answer as an option letter: from "C", "(C)", "C. text", an index, or the option's text."""
    n = len(options)
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < n:
            return LETTERS[value]
        raise FieldError(field, f"answer index {value} out of range for {n} options")
    if not isinstance(value, str) or not value.strip():
        raise FieldError(field, f"expected an option letter, index or text, got {_show(value)}")
    text = value.strip()
    # "C", "(C)", "C." alone, or a letter prefix followed by the option text ("(C) lay on floor").
    m = re.fullmatch(r"\(?([A-Ga-g])\)?\.?", text) or _OPTION_PREFIX.match(text)
    if m:
        letter = m.group(1).upper()
        if LETTERS.index(letter) < n:
            return letter
        raise FieldError(field, f"answer {text!r} names option {letter} but there are only {n} options")
    # Option text before index: an option may itself be a number ("how many ...").
    bodies = [o.split(". ", 1)[1].strip().lower() for o in options]
    if text.lower() in bodies:
        return LETTERS[bodies.index(text.lower())]
    if text.isdigit() and int(text) < n:
        return LETTERS[int(text)]
    raise FieldError(field, f"answer {text!r} is neither an option letter nor one of the options")
