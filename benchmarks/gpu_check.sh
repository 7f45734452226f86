#!/usr/bin/env bash
# The GPU checks of the speed work (issue #16) as one command, sized for about 10 minutes on one GPU:
#   1. tests/test_compile.py and tests/test_precision.py on CUDA (device auto picks the GPU): compiled updates
#      equal eager ones to 1e-5, no graph breaks; bf16 learning within its tolerance of fp32;
#   2. benchmarks/train_step.py, paper preset, 3 levels: eager against bf16 (update, acting, peak GPU memory);
#   3. the trainer end to end on Atari (paper preset) with its named clocks (run.json progress.phase_seconds):
#      where an agent step's time goes beyond the benchmark's update and acting.
#
#   bash benchmarks/gpu_check.sh                       # logs and run.json into $OUT (default ./gpu_check_out)
#   CASES=debug TRAINER_CONFIGS="atari100k debug" TRAINER_STEPS=800 bash benchmarks/gpu_check.sh   # a quick try
#
# Each step has its own time limit and the script goes on after a failure; its summary says which failed. For a
# GPU machine that cannot install packages, download the wheels it lacks into .whl/ beforehand (git-ignored, 3.5
# MB; here for its Python 3.12); the script installs them into a scratch folder first:
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 -d .whl gymnasium==1.4.0 Farama-Notifications==0.0.6 ale-py==0.12.1
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu_check_out}
CASES=${CASES:-paper}
TRAINER_CONFIGS=${TRAINER_CONFIGS:-atari100k}
TRAINER_STEPS=${TRAINER_STEPS:-2000}  # frames: 500 agent steps at Atari's action repeat 4
PYTHON=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
failed=()

if compgen -G ".whl/*.whl" >/dev/null; then
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/gpu_check_site \
        .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/gpu_check_site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $OUT/NAME.log, note a failure
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*"
    local start=$SECONDS
    timeout "$seconds" "$@" >"$OUT/$name.log" 2>&1
    local code=$?
    tail -n 25 "$OUT/$name.log"
    echo "== $name: exit $code after $((SECONDS - start)) s"
    [ "$code" -eq 0 ] || failed+=("$name (exit $code)")
}

{ nvidia-smi -L 2>&1; $PYTHON -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } \
    | tee "$OUT/machine.txt"
step tests 240 $PYTHON -m pytest -q -p no:cacheprovider tests/test_compile.py tests/test_precision.py
step train_step 180 $PYTHON benchmarks/train_step.py --presets $CASES --methods hieros --modes eager bf16 --updates 5 \
    --no-append
rm -rf "$OUT/trainer"
# shellcheck disable=SC2086
step trainer 240 $PYTHON -m hieros.train --configs $TRAINER_CONFIGS --task=atari_alien --seed=1 \
    --steps="$TRAINER_STEPS" --logdir="$OUT/trainer"
[ -f "$OUT/trainer/run.json" ] && cp "$OUT/trainer/run.json" "$OUT/trainer_run.json"
$PYTHON - "$OUT/trainer_run.json" <<'EOF' | tee "$OUT/trainer_phases.txt"
import json, sys
try:
    progress = json.load(open(sys.argv[1]))["progress"]
except (OSError, KeyError, ValueError) as error:
    sys.exit(f"no trainer record: {error}")
steps, phases = max(progress["env_steps"], 1), progress.get("phase_seconds", {})
print(f"{progress['env_steps']} agent steps, {progress['grad_steps']} training calls, "
      f"{progress['wall_seconds']:.1f} s in the loop, {progress['wall_seconds'] / steps:.4f} s per agent step")
for name, seconds in phases.items():
    print(f"  {name:<10} {seconds:8.1f} s  {seconds / steps:.4f} s per agent step")
EOF
rm -rf "$OUT/trainer"  # its checkpoint holds the replay: too large to bring back
echo "failed: ${failed[*]:-none}" | tee "$OUT/summary.txt"
[ ${#failed[@]} -eq 0 ]
