#!/usr/bin/env bash
# Install PyTorch + torchvision into the given venv unless a usable pair is already there.
# pyproject declares torch>=2.9; here we pin the builds known to be available on this kind of
# machine so pip does not fetch a multi-GB CUDA build from the registry.
set -euo pipefail
PY="$1"
if "$PY" -c 'import torch, torchvision, sys; v=tuple(int(p) for p in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(0 if v >= (2, 9) else 1)' 2>/dev/null; then
  exit 0
fi
case "$(uname -m)" in
  x86_64) pins="torch==2.14.1 torchvision==0.29.1" ;;
  aarch64|arm64) pins="torch==2.9.1 torchvision==0.24.1" ;;
  *) pins="torch>=2.9 torchvision" ;;
esac
echo "installing $pins"
# shellcheck disable=SC2086
"$PY" -m pip install $pins
