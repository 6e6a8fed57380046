#!/usr/bin/env bash
# Assembles a Hugging Face Space (Docker SDK) from this repository into a folder (default build/space), ready
# to be pushed to the Space's git repository:
#   scripts/make-space.sh [DIR]
#   cd build/space && git init -b main && git add -A && git commit -m "studio" \
#     && git push --force https://huggingface.co/spaces/OWNER/NAME main
# The Space's README.md is space/README.md (its YAML header is the Space's settings: sdk docker, port 7860,
# sign-in with Hugging Face, suggested hardware); the repository's README.md stays for GitHub readers.
# The Space's Dockerfile installs torch from the default package index (the CUDA build, which also runs on CPU
# hardware); set TORCH_INDEX as a Space variable to PyTorch's index of CPU-only wheels for a smaller image.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/space}
TMP="$OUT.tmp$$"
rm -rf "$TMP" && mkdir -p "$TMP"
cp -r pyproject.toml app.py Dockerfile .dockerignore studio assets examples "$TMP"/
cp space/README.md "$TMP/README.md"
find "$TMP" -name __pycache__ -type d -prune -exec rm -rf {} +
grep -q '^ARG TORCH_INDEX=""$' "$TMP/Dockerfile" \
  || { echo "make-space: the Dockerfile's TORCH_INDEX must default to empty (the default index)" >&2; exit 1; }
head -1 "$TMP/README.md" | grep -q '^---$' || { echo "make-space: space/README.md lacks its YAML header" >&2; exit 1; }
rm -rf "$OUT" && mv "$TMP" "$OUT"
echo "make-space: the Space is in $OUT ($(du -sh "$OUT" | cut -f1)); push it to the Space's repository"
