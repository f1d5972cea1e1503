"""One self-contained HTML report of one or more run folders.

A run folder may hold any of: ``protocol.json`` and ``predictions.jsonl`` (from `videorft eval`),
``metrics.json``, ``probe.json`` (or ``probe/probe.json``, from `videorft probe`),
``train_log.jsonl`` (one JSON object per logged training step) or an HF ``trainer_state.json``.
The page is ``templates/report.html`` rendered by Jinja2 with autoescape; plots (matplotlib PNGs)
and frame strips (JPEGs) are embedded as base64 data URIs, so the file opens anywhere offline.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.evaluation.predictions import PREDICTIONS_FILE
from videorft.evaluation.protocol import comparable, protocol_diff, read_json, read_protocol
from videorft.files import IMAGE_SUFFIXES, read_jsonl

METRICS_FILE = "metrics.json"
PROBE_FILE = "probe.json"
TRAIN_LOG_FILE = "train_log.jsonl"
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
#: Keys of a training log that are counters, not curves.
_NOT_CURVES = frozenset({"step", "epoch", "global_step", "time", "timestamp", "elapsed_s"})
#: Frames shown per example at most (evenly chosen from those the model saw) and their height.
STRIP_FRAMES = 8
THUMB_HEIGHT = 64


@dataclass
class Example:
    """One held-out prediction as the report shows it."""

    rank: str  # "best" or "worst"
    id: str
    task: str
    metric: str
    score: Any
    question: str
    answer: str
    gold: str
    frames: list[str] = field(default_factory=list)  # JPEG data URIs
    frames_note: str = ""


@dataclass
class RunData:
    """Everything the report shows about one run folder."""

    name: str
    path: Path
    protocol: dict[str, Any] | None = None
    metrics: dict[str, dict[str, Any]] | None = None
    probe: dict[str, Any] | None = None
    train_log: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    examples: dict[str, list[Example]] = field(default_factory=dict)  # task -> best and worst


def read_train_log(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Training log rows (``train_log.jsonl``, else ``trainer_state.json``'s log_history) and notes
    (unreadable lines are skipped and counted)."""
    path, state = run_dir / TRAIN_LOG_FILE, run_dir / "trainer_state.json"
    if path.is_file():
        torn: list[int] = []
        values = read_jsonl(path, torn)
        rows = [row for row in values if isinstance(row, dict)]
        bad = len(torn) + len(values) - len(rows)
        return rows, [f"{path}: {bad} unreadable line(s) skipped"] if bad else []
    if not state.is_file():
        return [], []
    doc = read_json(state)
    history = doc.get("log_history") if isinstance(doc, dict) else None
    if not isinstance(history, list):
        return [], [f"{state}: no 'log_history' list; no training curves"]
    return [r for r in history if isinstance(r, dict)], []


def load_run(run_dir: str | Path, name: str | None = None, *, n_examples: int = 2) -> RunData:
    """Collect what a run folder holds. Metrics are recomputed from predictions unless a
    ``metrics.json`` at least as new as the predictions exists. Malformed content (a string where
    a number belongs, a list where a mapping belongs) is dropped or shown as is, and noted."""
    from videorft.evaluation.metrics import aggregate

    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: run folder not found")
    run = RunData(name=name or path.name, path=path)
    run.protocol = _mapping_or_note(read_protocol(path), path / "protocol.json", run.notes)
    preds, metrics_file = path / PREDICTIONS_FILE, path / METRICS_FILE
    scored = _scored(preds, run.notes) if preds.is_file() else None
    if metrics_file.is_file() and (scored is None or metrics_file.stat().st_mtime >= preds.stat().st_mtime):
        run.metrics = _check_metrics(read_json(metrics_file), metrics_file, run.notes)
    elif scored is not None:
        run.metrics = aggregate(scored)
    probe_path = next((p for p in (path / PROBE_FILE, path / "probe" / PROBE_FILE) if p.is_file()), None)
    if probe_path is not None:
        run.probe = _check_probe(read_json(probe_path), probe_path, run.notes)
    if run.probe is not None:
        # A probe folder has no protocol or predictions of its own: show its ordered run's.
        run.protocol = run.protocol or _mapping_or_note(run.probe.get("protocol"), probe_path, run.notes)
        ordered = run.probe["variants"].get("ordered") or {}
        run.metrics = run.metrics or _check_metrics(ordered.get("metrics"), probe_path, run.notes)
        ordered_dir = probe_path.parent / "ordered"
        if scored is None and (ordered_dir / PREDICTIONS_FILE).is_file():
            scored = _scored(ordered_dir / PREDICTIONS_FILE, run.notes)
            run.protocol = run.protocol or _mapping_or_note(
                read_protocol(ordered_dir), ordered_dir / "protocol.json", run.notes
            )
    if scored is not None and n_examples > 0:
        run.examples = _examples(scored, run.protocol, n_examples, run.notes)
    run.train_log, notes = read_train_log(path)
    run.notes += notes + _check_train_log(run.train_log, path / TRAIN_LOG_FILE)
    if run.protocol is None and run.metrics is None and run.probe is None and not run.train_log:
        run.notes.append(f"{path}: no protocol, predictions, metrics, probe or training log found")
    return run


def _scored(preds: Path, notes: list[str]) -> Any:
    """Every valid row of a predictions file scored by its task's metric (bad lines noted)."""
    from videorft.evaluation.metrics import score_file

    scored = score_file(preds, skip_invalid=True)
    if scored.skipped:
        notes.append(f"{preds}: {len(scored.skipped)} invalid record(s) skipped: {scored.skipped[0]}")
    return scored


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _mapping_or_note(value: Any, source: Path, notes: list[str]) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    notes.append(f"{source}: expected a JSON object, got {type(value).__name__}; not shown")
    return None


def _check_metrics(value: Any, source: Path, notes: list[str]) -> dict[str, dict[str, Any]] | None:
    """``{task: {metric: number}}``; other shapes are dropped and noted, non-numbers kept (shown
    marked) and noted."""
    if value is None or not isinstance(value, dict):
        if value is not None:
            notes.append(
                f"{source}: expected {{task: {{metric: value}}}}, got {type(value).__name__}; not shown"
            )
        return None
    out: dict[str, dict[str, Any]] = {}
    for task, values in value.items():
        if not isinstance(values, dict):
            notes.append(f"{source}: {task}: expected {{metric: value}}, got {_short(values)}; not shown")
            continue
        notes += [
            f"{source}: {task}.{metric}: expected a number, got {_short(v)}"
            for metric, v in values.items()
            if not _is_number(v)
        ]
        out[str(task)] = values
    return out


def _check_probe(value: Any, source: Path, notes: list[str]) -> dict[str, Any] | None:
    """A probe.json with ``variants: {name: {score: number}}``; non-numeric scores become NaN."""
    if not isinstance(value, dict) or not isinstance(value.get("variants"), dict):
        notes.append(f"{source}: expected an object with a 'variants' mapping; probe not shown")
        return None
    variants: dict[str, Any] = {}
    for name, variant in value["variants"].items():
        if not isinstance(variant, dict):
            notes.append(f"{source}: variants.{name}: expected an object, got {_short(variant)}")
            continue
        if not _is_number(variant.get("score")):
            notes.append(
                f"{source}: variants.{name}.score: expected a number, got {_short(variant.get('score'))}"
            )
            variant = {**variant, "score": float("nan")}
        variants[str(name)] = variant
    gap = value.get("gap")
    if gap is not None and not isinstance(gap, dict):
        notes.append(f"{source}: gap: expected an object, got {_short(gap)}")
        gap = None
    if gap and gap.get("ci95") is not None and not (isinstance(gap["ci95"], list) and len(gap["ci95"]) == 2):
        notes.append(f"{source}: gap.ci95: expected [low, high], got {_short(gap['ci95'])}")
        gap = {**gap, "ci95": None}
    return {**value, "variants": variants, "gap": gap or {}}


def _check_train_log(rows: Sequence[Mapping[str, Any]], source: Path) -> list[str]:
    """Notes for keys that are numbers on some rows and something else on others (left out of the curve)."""
    numeric = {k for row in rows for k, v in row.items() if _is_number(v)}
    bad: dict[str, list[Any]] = {}
    for row in rows:
        for key in numeric:
            if row.get(key) is not None and not _is_number(row[key]):
                bad.setdefault(key, []).append(row[key])
    return [
        f"{source}: {key}: {len(v)} row(s) hold a non-number (first: {_short(v[0])}); left out of the curve"
        for key, v in sorted(bad.items())
    ]


# --------------------------------------------------------------------------- held-out examples


def _examples(
    scored: Any, protocol: Mapping[str, Any] | None, n: int, notes: list[str]
) -> dict[str, list[Example]]:
    """Per task the ``n`` best and ``n`` worst rows by the task's per-item score."""
    from videorft.evaluation.metrics import get_task_metric

    budget = _budget(protocol, notes)
    out: dict[str, list[Example]] = {}
    for task, items in scored.by_task.items():
        ranked = sorted(items, key=lambda pair: -_score_key(pair[1].primary))
        # With fewer than 2n rows, the better half is "best" and the rest "worst" (none shown twice).
        n_best = min(n, max(1, len(ranked) // 2))
        picked = [("best", p) for p in ranked[:n_best]] + [("worst", p) for p in ranked[n_best:][::-1][:n]]
        metric = get_task_metric(task).primary
        out[task] = [_example(rank, task, metric, row, item, budget) for rank, (row, item) in picked]
    return out


def _score_key(value: Any) -> float:
    return float(value) if _is_number(value) and math.isfinite(value) else float("-inf")


def _example(rank: str, task: str, metric: str, row: Mapping[str, Any], item: Any, budget: Any) -> Example:
    solution, media = row.get("solution"), row.get("video")
    frames, note = [], "no video or image path in the prediction row"
    if isinstance(media, str) and media:
        try:
            frames, note = _frame_strip(media, budget), ""
        except Exception as exc:  # noqa: BLE001 - any unreadable media is a note on the page, never a crash
            note = f"{media}: {exc}"
    question = str(row.get("prompt") or row.get("problem") or "—")
    gold = solution if isinstance(solution, str) else json.dumps(solution, ensure_ascii=False)
    answer = str(row.get("completion") or "")
    return Example(
        rank, str(row.get("id", "")), task, metric, item.primary, question, answer, gold, frames, note
    )


def _budget(protocol: Mapping[str, Any] | None, notes: list[str]) -> Any:
    """The eval's frame budget from its protocol (defaults where it has none)."""
    from videorft.video.budget import FrameBudget

    video = (protocol or {}).get("video")
    names = {f.name for f in dataclasses.fields(FrameBudget)}
    try:
        return FrameBudget(
            **{k: v for k, v in video.items() if k in names} if isinstance(video, dict) else {}
        )
    except (TypeError, ValueError) as exc:
        notes.append(f"protocol.json: video budget unusable for the frame strips ({exc}); defaults used")
        return FrameBudget()


def _frame_strip(media: str, budget: Any) -> list[str]:
    """Up to ``STRIP_FRAMES`` of the frames the model saw (or the image), as JPEG thumbnail data URIs."""
    from PIL import Image

    from videorft.video import load_video
    from videorft.video.folder import open_rgb

    path = Path(media)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        images = [open_rgb(path)]
    else:
        frames = load_video(path, budget).frames
        pick = sorted({round(i * (len(frames) - 1) / max(1, STRIP_FRAMES - 1)) for i in range(STRIP_FRAMES)})
        images = [Image.fromarray(frames[i]) for i in pick if i < len(frames)]
    uris = []
    for img in images:
        img = img.convert("RGB")
        img.thumbnail((THUMB_HEIGHT * 4, THUMB_HEIGHT))
        uris.append(_data_uri("image/jpeg", lambda buf, img=img: img.save(buf, format="JPEG", quality=80)))
    return uris


# --------------------------------------------------------------------------- plots


def _data_uri(mime: str, write: Callable[[io.BytesIO], Any]) -> str:
    buf = io.BytesIO()
    write(buf)
    return f"data:{mime};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png(fig: Any) -> str:
    uri = _data_uri("image/png", lambda buf: fig.savefig(buf, format="png", dpi=80, bbox_inches="tight"))
    _pyplot().close(fig)
    return uri


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _union(keys: Iterable[Any]) -> list[Any]:
    """Each key once, in first-seen order."""
    return list(dict.fromkeys(keys))


def curve_groups(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Numeric log keys grouped into one plot each: "rewards/<task>/<component>" share a plot
    per task, "tgrpo/p" and "tgrpo/p_shuffled" share one, every other key has its own."""
    groups: dict[str, list[str]] = {}
    for key in _union(k for row in rows for k, v in row.items() if _is_number(v) and k not in _NOT_CURVES):
        parts = key.split("/")
        group = "/".join(parts[:2]) if parts[0] == "rewards" and len(parts) > 2 else parts[0]
        groups.setdefault(group, []).append(key)
    return groups


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    points = [
        (float(row.get("step", row.get("global_step", i))), float(row[key]))
        for i, row in enumerate(rows)
        if _is_number(row.get(key)) and math.isfinite(row[key])
    ]
    return [x for x, _ in points], [y for _, y in points]


def training_figures(runs: Sequence[RunData]) -> list[tuple[str, str]]:
    """(title, PNG data URI) per curve group, every run with that key drawn on the same axes."""
    plt = _pyplot()
    merged: dict[str, list[str]] = {}
    for run in runs:
        for group, keys in curve_groups(run.train_log).items():
            merged[group] = _union([*merged.get(group, []), *keys])
    figures = []
    for group, keys in merged.items():
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        for run in runs:
            for key in keys:
                xs, ys = _series(run.train_log, key)
                if xs:
                    ax.plot(xs, ys, label=key if len(runs) == 1 else f"{run.name}: {key}", linewidth=1.2)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(keys) > 1 or len(runs) > 1:
            ax.legend(fontsize=7)
        figures.append((group, _png(fig)))
    return figures


def probe_figure(probed: Sequence[RunData], variants: Sequence[str]) -> str:
    """Grouped bar chart: score per probe variant, one bar per run."""
    fig, ax = _pyplot().subplots(figsize=(6, 3.2))
    width = 0.8 / len(probed)
    for i, run in enumerate(probed):
        scores = [run.probe["variants"].get(v, {}).get("score", float("nan")) for v in variants]
        xs = [j + (i - (len(probed) - 1) / 2) * width for j in range(len(variants))]
        ax.bar(xs, scores, width=width, label=run.name)
    ax.set_xticks(range(len(variants)), variants, rotation=15)
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title("temporal-sensitivity probe")
    ax.legend(fontsize=7)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


# --------------------------------------------------------------------------- HTML


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "—" if value is None else str(value)


def render_html(runs: Sequence[RunData], title: str = "videorft report") -> str:
    """The report as one HTML string (``templates/report.html``, autoescaped)."""
    import jinja2

    with_protocol = [r for r in runs if r.protocol]
    flat = [comparable(r.protocol) for r in with_protocol]
    probed = [r for r in runs if r.probe]
    variants = _union(v for r in probed for v in r.probe["variants"])
    # autoescape: every string from a run folder (names, metrics.json, probe.json, logs, model answers)
    # is untrusted text; the data URIs we build hold no character that escaping changes.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    return env.get_template("report.html").render(
        title=title,
        runs=runs,
        with_protocol=with_protocol,
        protocol_keys=sorted(set().union(*flat)) if flat else [],
        protocol_flat=flat,
        diff=protocol_diff([r.protocol for r in with_protocol]) if len(with_protocol) > 1 else {},
        with_metrics=[r for r in runs if r.metrics],
        metric_rows=_union((t, m) for r in runs for t, values in (r.metrics or {}).items() for m in values),
        probed=probed,
        probe_variants=variants,
        probe_png=probe_figure(probed, variants) if probed else None,
        figures=training_figures(runs) if any(r.train_log for r in runs) else [],
        examples=[(r, task, exs) for r in runs for task, exs in r.examples.items()],
        notes=[n for r in runs for n in r.notes],
    )


def write_report(run_dirs: Sequence[str | Path], out: str | Path, title: str = "videorft report") -> Path:
    """Load each run folder and write the report to ``out``. Runs with equal folder names are
    told apart by their parent folder."""
    paths = [Path(p) for p in run_dirs]
    names = [p.name for p in paths]
    runs = [load_run(p, f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name) for p in paths]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(runs, title), encoding="utf-8")
    return out
