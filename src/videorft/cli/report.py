"""`videorft report RUN_DIR [RUN_DIR ...] -o report.html`: one self-contained HTML report."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs", nargs="+", metavar="RUN_DIR", help="run folders (eval, probe and/or training output)"
    )
    parser.add_argument(
        "-o", "--out", default="report.html", help="HTML file to write (default: report.html)"
    )
    parser.add_argument("--title", default="videorft report", help="page title")


def run(args: argparse.Namespace) -> int:
    from videorft.cli.main import errors_exit
    from videorft.data.errors import DataError
    from videorft.evaluation.report import write_report

    with errors_exit(FileNotFoundError, ValueError, DataError):
        path = write_report(args.runs, args.out, title=args.title)
    print(f"wrote {path}")
    return 0
