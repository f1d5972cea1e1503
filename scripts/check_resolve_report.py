"""Check a `pip install --dry-run --report FILE` resolution: `python check_resolve_report.py FILE NAME==VER ...`.

Prints the key versions the resolver chose; exits 1 when a required NAME==VER is not what it would install.
"""

from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    report = json.loads(open(argv[1], encoding="utf-8").read())
    chosen = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in report["install"]}
    shown = ("torch", "torchvision", "transformers", "trl", "vllm", "deepspeed")
    print("resolves:", {k: chosen[k] for k in shown if k in chosen})
    bad = []
    for pin in argv[2:]:
        name, version = pin.split("==")
        if chosen.get(name.lower()) != version:
            bad.append(f"{name}: wanted {version}, resolver chose {chosen.get(name.lower())}")
    for line in bad:
        print(line, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
