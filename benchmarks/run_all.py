"""Run every benchmark and write docs/performance.md: ``python benchmarks/run_all.py [--quick] [--json]``.

The same as ``videorft bench``; kept here so that a clean clone can run the benchmarks with one command.
"""

from __future__ import annotations

import sys

from videorft.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
