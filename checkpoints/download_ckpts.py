"""Fetch official checkpoints from the Hugging Face Hub into ``checkpoints/`` (see download_ckpts.sh)."""

from __future__ import annotations

import os
import shutil
import sys

from sam2.configs import HF_MODELS, config_name

HERE = os.path.dirname(os.path.abspath(__file__))


def wanted(args):
    if not args:
        return [m for m in HF_MODELS if "sam2.1" in m]
    if args == ["all"]:
        return list(HF_MODELS)
    by_config = {cfg: mid for mid, (cfg, _) in HF_MODELS.items()}
    return [by_config[config_name(a)] for a in args]


def main(argv) -> int:
    from huggingface_hub import hf_hub_download

    for model_id in wanted(argv):
        file_name = HF_MODELS[model_id][1]
        target = os.path.join(HERE, file_name)
        if os.path.exists(target):
            print(f"{file_name}: already present")
            continue
        print(f"{file_name}: downloading from {model_id} ...", flush=True)
        try:
            cached = hf_hub_download(repo_id=model_id, filename=file_name)
        except Exception as exc:
            print(f"failed to download {file_name} from {model_id}: {exc}", file=sys.stderr)
            return 1
        shutil.copyfile(cached, target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
