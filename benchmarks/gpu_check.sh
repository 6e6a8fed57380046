#!/usr/bin/env bash
# GPU figures for the note: LoRA on a 1B Llama shape, QLoRA on an 8B shape (random weights, nothing downloaded).
# Usage: bash benchmarks/gpu_check.sh [--smoke]   (--smoke: tiny shapes, any device; checks the script)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
mkdir -p test-artifacts
exec "$PY" benchmarks/gpu_check.py --json test-artifacts/gpu_check.json "$@"
