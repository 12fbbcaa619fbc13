#!/usr/bin/env bash
# Download official SAM 2 / SAM 2.1 checkpoints from the Hugging Face Hub into this folder.
#   bash checkpoints/download_ckpts.sh                 # the four SAM 2.1 models
#   bash checkpoints/download_ckpts.sh all             # all eight
#   bash checkpoints/download_ckpts.sh sam2.1_hiera_t  # one (any config name or Hub id)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
exec python3 "$here/download_ckpts.py" "$@"
