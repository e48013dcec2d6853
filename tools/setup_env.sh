#!/usr/bin/env bash
# Create or update the project's virtualenv (.venv) with the pinned stack.
# Idempotent: a second run reuses what is installed (it compares a hash of
# the requirement files with the one recorded at the last install).
#   WSSS_VENV=path      venv location (default: .venv in the repo)
#   PYTHON=python3.11   interpreter used to create the venv
#   WSSS_KEEP_TORCH=1   keep the torch/torchvision already in the venv
#                       (GPU users with another CUDA: install torch first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${WSSS_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    echo "[setup] creating virtualenv $VENV"
    "$PY" -m venv "$VENV"
fi
# shellcheck disable=SC1091
. "$VENV/bin/activate"

STAMP="$VENV/.wsss_mm_requirements.sha1"
WANT="$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" \
        | sha1sum | cut -d' ' -f1)-${WSSS_KEEP_TORCH:-0}"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
        && python -c "import wsss_mm" 2>/dev/null; then
    echo "[setup] environment up to date ($VENV)"
    exit 0
fi

echo "[setup] installing pinned requirements (first run: a few minutes)"
python -m pip install -q --upgrade pip
REQ="$ROOT/requirements/runtime.txt"
if [ "${WSSS_KEEP_TORCH:-0}" = "1" ]; then
    REQ="$(mktemp)"
    grep -v -E '^(torch|torchvision)==' "$ROOT/requirements/runtime.txt" \
        > "$REQ"
    python -c "import torch; print('[setup] keeping torch', torch.__version__)"
fi
python -m pip install -q -r "$REQ" -r "$ROOT/requirements/tests.txt"
# --no-deps: setup.py's ranges must never pull in another torch.
python -m pip install -q --no-deps -e "$ROOT"
# Editable installs leave out the import hook's .pth that wheels of
# setup.py carry (import order, mmseg:: bases; docs/architecture.md).
cp "$ROOT/wsss_mm-import-hook.pth" \
    "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/"
python -m wsss_mm.utils.collect_env | grep -E \
    '^(PyTorch|wsss_mm|mmengine|mmcv|mmsegmentation|mmpretrain|pydensecrf2):' \
    || true
echo "$WANT" > "$STAMP"
echo "[setup] done"
