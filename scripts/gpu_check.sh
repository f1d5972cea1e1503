#!/usr/bin/env bash
# GPU check (issue #23): 3 T-GRPO and 3 GRPO steps of the 7B-shaped random Qwen2.5-VL on one CUDA GPU,
# LoRA and full fine-tuning of the LLM, with per-step generation / vision / loss times, tokens/s and peak memory.
#
#   scripts/gpu_check.sh [--json OUT.json] [--max-completion-length 768] [...]   # on the GPU machine
#   scripts/gpu_check.sh --tiny                                                   # CPU dry run (~1 min)
#
# Runs from the source tree (PYTHONPATH=src, no install). Packages the machine lacks travel as wheels in
# wheels/ (built by scripts/build_gpu_wheels.sh), installed once into $GPU_CHECK_SITE (they shadow the
# machine's copies of those names; its torch stays); GPU_CHECK_NO_WHEELS=1 skips them (they are built for Python 3.12).
# Python: $PYTHON or python3.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
if [ -z "${GPU_CHECK_NO_WHEELS:-}" ] && compgen -G "$root/wheels/*.whl" >/dev/null; then
    site="${GPU_CHECK_SITE:-/tmp/videorft_gpu_site}"
    if [ ! -f "$site/.installed" ]; then
        "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" "$root"/wheels/*.whl
        touch "$site/.installed"
    fi
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$root/src${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
exec "$python" "$root/scripts/gpu_check.py" "$@"
