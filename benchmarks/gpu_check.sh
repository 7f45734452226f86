#!/usr/bin/env bash
# The GPU checks as one command sized for one call of at most 9 minutes on an H100 (benchmarks/gpu_check.py says
# what each step proves): stops at once with exit 3 where torch sees no CUDA device.
#
#   bash benchmarks/gpu_check.sh                     # gpu_check_out/gpu_check.json and gpu_check.md
#   OUT=/some/dir BUDGET=400 bash benchmarks/gpu_check.sh
#   python benchmarks/gpu_check.py --rehearse        # the same steps on the CPU at debug size (proves the script)
#
# For a GPU machine that cannot install packages, download the wheels it lacks into .whl/ beforehand (git-ignored;
# here for its Python 3.12); they are installed into a scratch folder first:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl gymnasium==1.4.0 Farama-Notifications==0.0.6 ale-py==0.12.1
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/gpu_check_site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
nvidia-smi -L 2>/dev/null
exec $PYTHON benchmarks/gpu_check.py --out "${OUT:-gpu_check_out}" --budget "${BUDGET:-510}"
