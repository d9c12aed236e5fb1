#!/usr/bin/env bash
# Everything that needs a CUDA GPU, in one go: the `gpu` tests (kernels vs references, values and
# gradients) and the GPU rows of the benchmarks. Each part's output goes to <out>/<part>.txt; the
# markdown tables in them are what goes into experiments/<name>_<date>.md (name the GPU there).
#
#   CUDA_HOME=/usr/local/cuda bash experiments/gpu_checks.sh [out_dir] [parts...]
#   parts: tests networks training fid (default: all, in that order)
#
# Each part runs under `timeout $PART_TIMEOUT` (default 150 s) so one hang cannot eat a whole lease: a
# timed-out part reports rc=124 and the next one starts. PYTHON names the interpreter (default python;
# on a machine whose torch lives in a venv, give that venv's python3 itself, not a symlink to it: a
# symlink outside the venv starts the system interpreter without torch). On a lent device machine with
# a 10-minute command limit, run it through experiments/gpu_device.sh, which sets all this up.
set -uo pipefail
out=${1:-gpu_checks_out}
shift || true
parts=${*:-tests networks training fid}
py=${PYTHON:-python}
part_timeout=${PART_TIMEOUT:-150}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'; print(torch.cuda.get_device_name())" \
  | tee "$out/device.txt" || exit 1
nvidia-smi >>"$out/device.txt" 2>&1 || true
status=0
for part in $parts; do
  echo "== $part ($(date -u +%T), timeout ${part_timeout} s)" | tee -a "$out/summary.txt"
  t0=$(date +%s)
  case $part in
    tests)    cmd=("$py" -m pytest -q -m gpu -p no:cacheprovider tests) ;;
    networks) cmd=("$py" experiments/bench_networks.py --device cuda) ;;
    training) cmd=("$py" experiments/bench_training.py --preset auto --res 256 --batch 32 --steps 60 --accelerator gpu) ;;
    fid)      cmd=("$py" experiments/bench_fid.py --device cuda --images 512 --batch 64 --machine "$(head -1 "$out/device.txt")") ;;
    *) echo "unknown part $part (tests networks training fid)"; exit 2 ;;
  esac
  timeout -k 10 "$part_timeout" "${cmd[@]}" >"$out/$part.txt" 2>&1
  rc=$?
  [ $rc -ne 0 ] && status=1
  echo "$part: rc=$rc in $(( $(date +%s) - t0 )) s — $out/$part.txt" | tee -a "$out/summary.txt"
  tail -n 8 "$out/$part.txt"
done
exit $status
