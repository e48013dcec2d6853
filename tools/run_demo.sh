#!/usr/bin/env bash
# The main job on the embedded demo: set up the environment (idempotent),
# generate the synthetic demo data, train APC with a tiny ViT on CPU from
# image-level labels only, evaluate mIoU on val and paint predictions.
#   NPROC=2 bash tools/run_demo.sh   trains with 2 processes (gloo DDP)
#   bash tools/run_demo.sh --cfg-options randomness.seed=1
#                                     extra arguments go to tools/train.py
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh"
# shellcheck disable=SC1091
. "${WSSS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
CONFIG=configs/demo/wsss_demo_cpu.py
WORK_DIR=${WORK_DIR:-work_dirs/wsss_demo_cpu}
NPROC=${NPROC:-1}

python tools/dataset_converters/make_demo_data.py --out data/demo_shapes
if [ "$NPROC" -gt 1 ]; then
    bash tools/dist_train.sh "$CONFIG" "$NPROC" --work-dir "$WORK_DIR" "$@"
else
    python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
fi
# mmengine records the checkpoint it wrote last.
CKPT="$(cat "$WORK_DIR/last_checkpoint")"
# val mIoU of the decoder, printed without and with dense CRF (APC's
# published post-processing; the crf_cfg of the model base).
python tools/test.py "$CONFIG" "$CKPT" --crf \
    --work-dir "$WORK_DIR/test" --show-dir "$WORK_DIR/vis"
echo "[demo] metrics: $WORK_DIR/test/crf/result_test.json (no CRF)," \
    "result_test_crf.json (CRF); visualisations: $WORK_DIR/vis"
