"""`videorft data synth`: render the synthetic spatio-temporal video suite (see docs/synth.md)."""

from __future__ import annotations

import argparse

# Kept here (not imported from videorft.data.synth) so `--help` imports no numpy; a test checks they agree.
TASKS = (
    "temporal_grounding",
    "tracking",
    "multiple_choice",
    "numerical",
    "grounding_qa",
    "quality",
    "caption",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="output folder (empty, or an earlier synth output)")
    parser.add_argument(
        "--n", type=int, required=True, help="videos per task (split 80/10/10 train/val/test)"
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed and options -> identical suite")
    parser.add_argument(
        "--tasks",
        nargs="+",
        choices=TASKS,
        metavar="TASK",
        help=f"tasks to render (default: all of {', '.join(TASKS)})",
    )
    parser.add_argument("--size", type=int, default=112, help="frame width = height in px (even)")
    parser.add_argument(
        "--nframes",
        "--frames",  # the SynthConfig field's name, kept as an alias
        dest="frames",
        type=int,
        default=8,
        help="frames the model samples; events are placed on them",
    )
    parser.add_argument(
        "--order-choices",
        type=int,
        nargs=2,
        default=(2, 4),
        metavar=("MIN", "MAX"),
        help="number of options (= shapes shown) in temporal-order questions",
    )
    parser.add_argument(
        "--demo-suite",
        action="store_true",
        help="the demo's temporal-order variant: two colours, 'first' only, fixed options (docs/synth.md)",
    )
    parser.add_argument("--got10k-sequences", type=int, default=2, help="GOT-10k frame folders per split")
    parser.add_argument("--workers", type=int, default=0, help="render processes (0: one per CPU core)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    from videorft.data.synth import SPLITS, synthesize
    from videorft.demo import DEMO_SUITE

    console = Console(stderr=True)
    options = dict(DEMO_SUITE) if args.demo_suite else {"order_choices": tuple(args.order_choices)}
    try:
        manifest = synthesize(
            args.out,
            args.n,
            seed=args.seed,
            tasks=args.tasks,
            size=args.size,
            frames=args.frames,
            got10k_sequences=args.got10k_sequences,
            workers=args.workers,
            progress=not args.no_progress,
            **options,
        )
    except (ValueError, FileExistsError, KeyError) as exc:
        console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}")
        return 2
    info = json.loads((manifest.parent / "synth_info.json").read_text())
    table = Table(title=f"synthetic suite (seed {info['seed']}): records per task and split")
    for col in ("task", *SPLITS, "total"):
        table.add_column(col, justify="left" if col == "task" else "right")
    for task, per in info["records"].items():
        table.add_row(task, *(str(per[s]) for s in SPLITS), str(sum(per.values())))
    Console().print(table)
    print(f"{info['videos']} videos in {info['seconds']:.1f} s -> {manifest}")
    return 0
