#!/usr/bin/env bash
# Download official SAM 2 / SAM 2.1 / EdgeTAM checkpoints from the Hugging Face Hub into this folder.
#   bash checkpoints/download_ckpts.sh                 # the four SAM 2.1 models
#   bash checkpoints/download_ckpts.sh all             # all eight SAM 2 models and EdgeTAM
#   bash checkpoints/download_ckpts.sh edgetam         # EdgeTAM (facebook/EdgeTAM, edgetam.pt)
#   bash checkpoints/download_ckpts.sh sam2.1_hiera_t  # one (any config name or Hub id)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec python3 "$here/download_ckpts.py" "$@"
