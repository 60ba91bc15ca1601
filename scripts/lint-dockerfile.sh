#!/usr/bin/env bash
# dockerfile-utils (the Dockerfile language server's linter) prints warnings but exits 0; fail on any.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(node_modules/.bin/dockerfile-utils lint Dockerfile.arm64)
if [ -n "$out" ]; then
  printf '%s\n' "$out"
  exit 1
fi
echo "Dockerfile.arm64: no problems"
