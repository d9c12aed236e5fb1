#!/usr/bin/env bash
# One prepared call for this workplace's lent GPU machine (see the device tool's README): sets up the
# image's venv python, the carried wheels (.whl: hydra-core, omegaconf, antlr4-python3-runtime,
# torch-fidelity — the image lacks them), builds the ops for the visible card only, then runs
# experiments/gpu_checks.sh with a per-part timeout so the whole command ends inside the 10-minute limit.
#
#   device run, carry [".whl"], timeout_s 600:
#     bash experiments/gpu_device.sh "$OUT/gc"
#
# Every step prints a timestamped line to stdout, so a call that is cut short still shows how far it got.
set -uo pipefail
out=${1:?usage: gpu_device.sh OUT_DIR [parts...]}
shift || true
stamp() { echo "[$(date -u +%T)] $*"; }
py=/opt/torch/.venv/bin/python3
[ -x "$py" ] || py=$(command -v python3)
stamp "python: $py"
if ls .whl/*.whl >/dev/null 2>&1; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { stamp "wheel install failed"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda} MAX_JOBS=${MAX_JOBS:-$(nproc)}
cap=$(timeout 60 "$py" -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())") \
  || { stamp "torch cannot see a CUDA GPU"; exit 1; }
export TORCH_CUDA_ARCH_LIST=$cap
stamp "card capability $cap; building the ops for it only"
mkdir -p "$out"
timeout -k 10 "${BUILD_TIMEOUT:-180}" "$py" -c "
import time; t = time.time()
from sdstylegan.ops.build import build_extension
build_extension(verbose=True)
print(f'ops built in {time.time() - t:.1f} s')" >"$out/build.txt" 2>&1
stamp "build rc=$?"; tail -n 8 "$out/build.txt"
PYTHON=$py PART_TIMEOUT=${PART_TIMEOUT:-150} bash experiments/gpu_checks.sh "$out" "$@"
rc=$?
stamp "gpu_checks rc=$rc"
exit $rc
