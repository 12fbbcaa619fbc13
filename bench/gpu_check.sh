#!/usr/bin/env bash
# The GPU check on a fresh machine (see docs/speed.md, "GPU check"): installs the requirements
# if they are missing (a failure without network is ignored), prints nvidia-smi and the
# torch/CUDA versions, then runs `python -m bench.gpu_check` inside the time budget.
#
#   bash bench/gpu_check.sh --stage-media             # here, before: copy the test media into
#                                                     # bench/results/gpu_media (ignored) to carry
#   bash bench/gpu_check.sh --out DIR [--budget S] [--device cuda] [other bench.gpu_check options]
#
# The budget (default 600 s, or $GPU_CHECK_BUDGET) counts from this script's start.
set -u
cd "$(dirname "$0")/.." || exit 1
start=$(date +%s)

if [ "${1:-}" = "--stage-media" ]; then
  src=${SAM2_SHARED_MEDIA:-../shared/media}
  dst=bench/results/gpu_media
  mkdir -p "$dst" && cp -r "$src/truck.jpg" "$src/groceries.jpg" "$src/bedroom" "$dst/" || exit 1
  du -sh "$dst"
  exit 0
fi

out=bench/results/gpu_check
budget=${GPU_CHECK_BUDGET:-600}
device=cuda
rest=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    *) rest+=("$1"); shift ;;
  esac
done
mkdir -p "$out"

{
  if ! python3 -c "import torch, numpy, PIL, cv2, safetensors, tqdm" 2>/dev/null; then
    echo "== installing requirements"
    timeout 180 python3 -m pip install -q --retries 1 --timeout 10 -r requirements.txt \
      || echo "pip install failed (no network?); going on with what is installed"
  fi
  echo "== nvidia-smi"
  nvidia-smi 2>&1 || echo "(no nvidia-smi)"
  echo "== versions"
  python3 -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '| CUDA build', torch.version.cuda, '| cuDNN', torch.backends.cudnn.version(), '| cuda available', torch.cuda.is_available())"
} 2>&1 | tee "$out/gpu_check_env.txt"

left=$(( ${budget%.*} - ($(date +%s) - start) ))
echo "== bench.gpu_check: $left s left of the $budget s budget"
PYTHONUNBUFFERED=1 timeout --kill-after=10 $(( left + 15 )) \
  python3 -m bench.gpu_check --device "$device" --out "$out" --budget "$left" ${rest[@]+"${rest[@]}"}
