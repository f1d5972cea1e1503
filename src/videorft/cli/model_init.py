"""`videorft model init --size tiny --out DIR [--seed S] [--force]`: a random-weight Qwen2.5-VL folder.

The folder loads with ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained(DIR)`` with the
hub unreachable: real Qwen2.5 tokenizer (built from dashscope's qwen.tiktoken), chat template,
image and video processor configs, and safetensors weights drawn from ``--seed``.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from videorft.models.sizes import SIZES  # pure data, no torch

    sizes = "; ".join(f"{name}: {s.description}" for name, s in SIZES.items())
    parser.add_argument("--size", required=True, choices=list(SIZES), help=f"model shape ({sizes})")
    parser.add_argument("--out", required=True, help="output folder (created; must be empty unless --force)")
    parser.add_argument(
        "--seed", type=int, default=0, help="weight seed: same seed, identical weights (default 0)"
    )
    parser.add_argument("--force", action="store_true", help="replace the contents of a non-empty --out")


def run(args: argparse.Namespace) -> int:
    import json

    from videorft.models.checkpoint import METADATA_FILE, init_model

    try:
        out = init_model(args.size, args.out, seed=args.seed, overwrite=args.force)
    except (FileExistsError, NotADirectoryError) as exc:
        print(f"videorft model init: {exc}", file=sys.stderr)
        return 2
    meta = json.loads((out / METADATA_FILE).read_text(encoding="utf-8"))
    print(
        f"wrote {meta['size']} Qwen2.5-VL checkpoint ({meta['num_parameters'] / 1e6:.1f}M parameters, "
        f"{meta['dtype']}, seed {meta['seed']}) to {out}"
    )
    return 0
