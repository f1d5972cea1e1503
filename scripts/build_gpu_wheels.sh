#!/usr/bin/env bash
# Wheels that scripts/gpu_check.sh needs on the lent GPU machine (Python 3.12, x86-64, no package index; torch
# 2.11, transformers 5.17, peft and accelerate preinstalled). Writes wheels/ at the repo root (git-ignored,
# ~52 MiB: under the 64 MiB a device call carries).
#
#   scripts/build_gpu_wheels.sh                        # + transformers as pinned in pyproject.toml (default)
#   scripts/build_gpu_wheels.sh --device-transformers  # use the machine's transformers 5.17 instead
#
# Why transformers travels by default: 5.17 truncates Qwen2.5-VL's seconds-per-temporal-patch to an integer in
# get_rope_index (`int(next(second_per_grid_ts))`), so a clip sampled faster than 2 fps gets one temporal
# position for all its frames; 5.24, our pin, keeps the fraction. trl, datasets (+ dill, multiprocess: its
# pure-Python needs the machine lacks), av and dashscope (only its qwen.tiktoken is read) are absent there.
# Versions come from pyproject.toml / the venv.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
out="$root/wheels"
names=(trl datasets av dashscope)
[ "${1:-}" = "--device-transformers" ] || names+=(transformers)
# exact pins from pyproject.toml (a range pin: the version installed in \$PYTHON); dill and multiprocess at datasets' own bounds (its metadata)
mapfile -t pins < <("$python" - "$root/pyproject.toml" "${names[@]}" <<'PY'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
pins = {re.split(r"[=<>!~ ]", d, maxsplit=1)[0].lower(): d for d in deps}
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[2:]:
    if name not in pins:
        sys.exit(f"pyproject.toml does not list {name}")
    if "==" in pins[name]:
        print(pins[name])
        continue
    try:  # a range pin (transformers): the version this Python resolved it to
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        sys.exit(f"pyproject.toml gives {name} a range and {sys.executable} does not have it installed")
PY
)
[ "${#pins[@]}" -eq "${#names[@]}" ] || { echo "build_gpu_wheels: could not read the pins (see above)" >&2; exit 1; }
pins+=("dill==0.4.1" "multiprocess==0.70.19")
rm -rf "$out" && mkdir -p "$out"
"$python" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$out" "${pins[@]}"
du -sh "$out"
