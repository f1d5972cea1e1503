"""Run every benchmark and write docs/performance.md: ``python benchmarks/run_all.py [--quick] [--json]``.

The same as ``videorft bench``; kept here so that a clean clone can run the benchmarks with one command.
"""

from __future__ import annotations

import sys
from pathlib import Path

from videorft.cli.main import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    if not any(a == "--output" or a.startswith("--output=") for a in argv):
        # this script's job is the docs page; `videorft bench` itself writes only where --output says
        argv += ["--output", str(Path(__file__).resolve().parents[1] / "docs" / "performance.md")]
    sys.exit(main(["bench", *argv]))
