"""One self-contained HTML report of one or more run folders.

A run folder may hold any of: ``protocol.json`` and ``predictions.jsonl`` (from `videorft eval`),
``metrics.json``, ``probe.json`` (or ``probe/probe.json``, from `videorft probe`),
``train_log.jsonl`` (one JSON object per logged training step) or an HF ``trainer_state.json``.
Plots are matplotlib PNGs embedded as base64 data URIs, so the file opens anywhere offline.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from videorft.evaluation.protocol import protocol_diff, read_protocol

PREDICTIONS_FILE = "predictions.jsonl"
METRICS_FILE = "metrics.json"
PROBE_FILE = "probe.json"
TRAIN_LOG_FILE = "train_log.jsonl"

# Keys of a training log that are counters, not curves.
_NOT_CURVES = frozenset({"step", "epoch", "global_step", "time", "timestamp", "elapsed_s"})


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from None


def read_train_log(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Training log rows (``train_log.jsonl``, else ``trainer_state.json``'s log_history).

    Unreadable lines are skipped and counted in the returned notes.
    """
    path = run_dir / TRAIN_LOG_FILE
    if path.is_file():
        rows, bad = [], 0
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
        notes = [f"{path}: {bad} unreadable line(s) skipped"] if bad else []
        return rows, notes
    state = run_dir / "trainer_state.json"
    if state.is_file():
        history = _read_json(state).get("log_history", [])
        return [r for r in history if isinstance(r, dict)], []
    return [], []


def _find_probe(run_dir: Path) -> Path | None:
    for candidate in (run_dir / PROBE_FILE, run_dir / "probe" / PROBE_FILE):
        if candidate.is_file():
            return candidate
    return None


def load_run(run_dir: str | Path, name: str | None = None) -> RunData:
    """Collect what a run folder holds. Metrics are recomputed from predictions unless a
    ``metrics.json`` at least as new as the predictions exists."""
    path = Path(run_dir)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: run folder not found")
    run = RunData(name=name or path.name, path=path)
    run.protocol = read_protocol(path)
    preds, metrics_file = path / PREDICTIONS_FILE, path / METRICS_FILE
    if metrics_file.is_file() and (
        not preds.is_file() or metrics_file.stat().st_mtime >= preds.stat().st_mtime
    ):
        run.metrics = _read_json(metrics_file)
    elif preds.is_file():
        from videorft.evaluation.metrics import metrics_of_file

        run.metrics, skipped = metrics_of_file(preds, skip_invalid=True)
        if skipped:
            run.notes.append(f"{preds}: {len(skipped)} invalid line(s) skipped: {skipped[0]}")
    probe_path = _find_probe(path)
    if probe_path is not None:
        run.probe = _read_json(probe_path)
    if run.probe is not None:
        # A probe folder has no protocol or predictions of its own: show its ordered run's.
        run.protocol = run.protocol or run.probe.get("protocol")
        run.metrics = run.metrics or run.probe.get("variants", {}).get("ordered", {}).get("metrics")
    run.train_log, notes = read_train_log(path)
    run.notes.extend(notes)
    if run.protocol is None and run.metrics is None and run.probe is None and not run.train_log:
        run.notes.append(f"{path}: no protocol, predictions, metrics, probe or training log found")
    return run


# --------------------------------------------------------------------------- plots


def _png_data_uri(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def curve_groups(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Numeric log keys grouped into one plot each: "rewards/<task>/<component>" share a plot
    per task, "tgrpo/p" and "tgrpo/p_shuffled" share one, every other key has its own."""
    keys: list[str] = []
    for row in rows:
        for key, value in row.items():
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if numeric and key not in _NOT_CURVES and key not in keys:
                keys.append(key)
    groups: dict[str, list[str]] = {}
    for key in keys:
        parts = key.split("/")
        group = "/".join(parts[:2]) if parts[0] == "rewards" and len(parts) > 2 else parts[0]
        groups.setdefault(group, []).append(key)
    return groups


def _series(rows: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(rows):
        value = row.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            step = row.get("step", row.get("global_step", i))
            xs.append(float(step))
            ys.append(float(value))
    return xs, ys


def training_figures(runs: Sequence[RunData]) -> list[tuple[str, str]]:
    """(title, PNG data URI) per curve group, every run with that key drawn on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    merged: dict[str, list[str]] = {}
    for run in runs:
        for group, keys in curve_groups(run.train_log).items():
            merged.setdefault(group, [])
            merged[group] += [k for k in keys if k not in merged[group]]
    figures = []
    for group, keys in merged.items():
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
        for run in runs:
            for key in keys:
                xs, ys = _series(run.train_log, key)
                if xs:
                    label = key if len(runs) == 1 else f"{run.name}: {key}"
                    ax.plot(xs, ys, label=label, linewidth=1.2)
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(keys) > 1 or len(runs) > 1:
            ax.legend(fontsize=7)
        figures.append((group, _png_data_uri(fig)))
    return figures


def probe_figure(runs: Sequence[RunData]) -> str | None:
    """Grouped bar chart: score per probe variant, one bar per run."""
    probed = [r for r in runs if r.probe]
    if not probed:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants: list[str] = []
    for run in probed:
        variants += [v for v in run.probe.get("variants", {}) if v not in variants]
    fig, ax = plt.subplots(figsize=(6, 3.2))
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
    return _png_data_uri(fig)


# --------------------------------------------------------------------------- HTML

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:0.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}
th:first-child,td:first-child,td.key{text-align:left}
thead th{background:#f0f0f0}
tr.differs td{background:#fff0f0}
.flag{background:#fff3cd;border:1px solid #e0c060;padding:0.6em 1em;margin:1em 0}
.note{color:#666;font-size:12px}
figure{display:inline-block;margin:0.5em}
img{border:1px solid #ddd}
"""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "—" if value is None else str(value)


def _metrics_table(runs: Sequence[RunData]) -> str:
    with_metrics = [r for r in runs if r.metrics]
    if not with_metrics:
        return "<p class='note'>No predictions or metrics in these runs.</p>"
    rows: list[tuple[str, str]] = []
    for run in with_metrics:
        for task, values in run.metrics.items():
            rows += [(task, m) for m in values if (task, m) not in rows]
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in with_metrics)
    body = []
    for task, metric in rows:
        cells = "".join(f"<td>{_fmt((r.metrics.get(task) or {}).get(metric))}</td>" for r in with_metrics)
        body.append(
            f"<tr><td class='key'>{html.escape(task)}</td><td class='key'>{html.escape(metric)}</td>{cells}</tr>"
        )
    return (
        f"<table id='metrics'><thead><tr><th>task</th><th>metric</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _probe_table(runs: Sequence[RunData]) -> str:
    """One row per probed run: score per variant, then the ordered − shuffled gap and its CI."""
    probed = [r for r in runs if r.probe]
    variants: list[str] = []
    for run in probed:
        variants += [v for v in run.probe.get("variants", {}) if v not in variants]
    names = "".join(f"<th>{html.escape(v)}</th>" for v in variants)
    body = []
    for run in probed:
        gap = run.probe.get("gap", {})
        ci = gap.get("ci95") or [None, None]
        cells = "".join(f"<td>{_fmt(run.probe['variants'].get(v, {}).get('score'))}</td>" for v in variants)
        body.append(
            f"<tr><td>{html.escape(run.name)}</td>{cells}<td>{_fmt(gap.get('ordered_minus_shuffled'))}</td>"
            f"<td>[{_fmt(ci[0])}, {_fmt(ci[1])}]</td></tr>"
        )
    return (
        f"<table id='probe'><thead><tr><th>run</th>{names}<th>ordered − shuffled</th><th>95% CI</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def _protocol_section(runs: Sequence[RunData]) -> str:
    from videorft.evaluation.protocol import comparable

    with_protocol = [r for r in runs if r.protocol]
    if not with_protocol:
        return "<p class='note'>No protocol.json in these runs.</p>"
    diff = protocol_diff([r.protocol for r in with_protocol]) if len(with_protocol) > 1 else {}
    parts = []
    if diff:
        keys = ", ".join(html.escape(k) for k in diff)
        parts.append(
            f"<div class='flag' id='protocol-differs'>&#9888; Protocols differ in {len(diff)} setting(s): "
            f"{keys}. Scores are not directly comparable.</div>"
        )
    elif len(with_protocol) > 1:
        parts.append("<p>Protocols agree on every setting that changes a number.</p>")
    flat = [comparable(r.protocol) for r in with_protocol]
    keys = sorted(set().union(*flat))
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in with_protocol)
    body = []
    for key in keys:
        cls = " class='differs'" if key in diff else ""
        cells = "".join(f"<td>{html.escape(_fmt(f.get(key)))}</td>" for f in flat)
        body.append(f"<tr{cls}><td class='key'>{html.escape(key)}</td>{cells}</tr>")
    parts.append(
        f"<table id='protocol'><thead><tr><th>setting</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
    return "".join(parts)


def render_html(runs: Sequence[RunData], title: str = "videorft report") -> str:
    """The report as one HTML string."""
    sections = [f"<h1>{html.escape(title)}</h1>"]
    sections.append(
        "<p class='note'>Runs: "
        + ", ".join(f"{html.escape(r.name)} ({html.escape(str(r.path))})" for r in runs)
        + "</p>"
    )
    sections.append("<h2>Protocol</h2>" + _protocol_section(runs))
    sections.append("<h2>Metrics</h2>" + _metrics_table(runs))
    probe_png = probe_figure(runs)
    if probe_png:
        sections.append(
            "<h2>Temporal-sensitivity probe</h2>"
            f"<figure><img alt='probe' src='{probe_png}'></figure>" + _probe_table(runs)
        )
    if any(r.train_log for r in runs):
        figs = "".join(
            f"<figure><img alt='{html.escape(t)}' src='{uri}'><figcaption>{html.escape(t)}</figcaption></figure>"
            for t, uri in training_figures(runs)
        )
        sections.append("<h2>Training curves</h2>" + figs)
    notes = [n for r in runs for n in r.notes]
    if notes:
        sections.append("<h2>Notes</h2><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>")
    # Marks the body once every image has decoded, so a headless browser check can read it from the DOM.
    script = (
        "<script>window.addEventListener('load',function(){var im=document.images,ok=0;"
        "for(var i=0;i<im.length;i++){if(im[i].complete&&im[i].naturalWidth>0)ok++;}"
        "document.body.setAttribute('data-images-rendered',ok+'/'+im.length);});</script>"
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(sections)}{script}</body></html>\n"
    )


def write_report(run_dirs: Sequence[str | Path], out: str | Path, title: str = "videorft report") -> Path:
    """Load each run folder and write the report to ``out``. Runs with equal folder names are
    told apart by their parent folder."""
    paths = [Path(p) for p in run_dirs]
    names = [p.name for p in paths]
    names = [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
    runs = [load_run(p, name) for p, name in zip(paths, names)]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(runs, title), encoding="utf-8")
    return out
