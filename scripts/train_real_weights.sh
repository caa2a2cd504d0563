#!/usr/bin/env bash
# Fine-tunes the weights on real annotated video (OTB layout, e.g. the `train` split of a real
# development set) in phases that follow the recipe's stages, each resumable:
#   A) frame-level pairs at Pico depth (6 blocks),
#   B) self-distillation over all 15 blocks (so Nano and Tiny follow the retrained early blocks),
#   then trains the learned confidence head for the result (`fartrack train-score`).
# The shipped default weights are the output of this script run on the output of
# scripts/train_default_weights.sh (see fartrack_ros/weights/MODEL_CARD.md).
#
#   scripts/train_real_weights.sh REAL_TRAIN_DIR [INIT_WEIGHTS]
#   INSTALL=1 scripts/train_real_weights.sh ...   # also copy the result over the shipped weights
#
# State (checkpoints with optimiser state, logs) lives in $FARTRACK_TRAIN_DIR, by default
# ~/.cache/fartrack/train-real, outside the work tree: run the script again after an
# interruption and every phase continues from its newest checkpoint; finished phases are skipped.
# The result is $FARTRACK_TRAIN_DIR/default.safetensors (fp16, with the confidence head). Step
# counts fit a 2-core CPU in about two hours; a GPU runs the same commands (run.device=auto)
# much faster. Phase C (100 sequence-level steps, LR 1e-5) is optional (PHASE_C=1): on the real
# validation split it lost what B had gained (docs/training.md).
set -euo pipefail
cd "$(dirname "$0")/.."
REAL=${1:?usage: $0 REAL_TRAIN_DIR [INIT_WEIGHTS]}
INIT=${2:-fartrack_ros/weights/fartrack_default.safetensors}
STATE=${FARTRACK_TRAIN_DIR:-$HOME/.cache/fartrack/train-real}
PY=${PY:-.venv/bin/python}
THREADS=${THREADS:-2}
STEPS_A=${STEPS_A:-1500}
STEPS_B=${STEPS_B:-300}
STEPS_C=${STEPS_C:-100}
mkdir -p "$STATE"
REAL=$(cd "$REAL" && pwd)
T="$PY -m fartrack_ros train --no-progress"
COMMON="--set data.workers=1 --set run.threads=$THREADS --set optim.epochs=1000"
DATA="data.datasets=[{kind: otb, root: $REAL, weight: 1}]"
NARROW="--set data.processing.search_center_jitter=1.0 --set data.processing.search_scale_jitter=0.2"

# phase NAME ARGS...: runs (or resumes) one phase into $STATE/NAME, marks it done when it ends.
phase() {
    local name=$1; shift
    local dir=$STATE/$name
    if [ -f "$dir/DONE" ]; then echo "[train_real] $name: done" >&2; return; fi
    local resume=()
    if compgen -G "$dir/checkpoint_*.train_state.pt" >/dev/null; then resume=(--resume "$dir"); fi
    echo "[train_real] $name: ${resume[*]:-fresh start}" >&2
    $T "$@" --output-dir "$dir" "${resume[@]}"
    touch "$dir/DONE"
}

# A) frame-level, 10 steps an epoch, a checkpoint every 100 steps; LR 8e-5 for 60 % of the
#    steps, then a third of it.
phase real_A --config config/train/frame.yaml --set model.depth=6 --set optim.batch_size=16 \
    --set data.samples_per_epoch=160 --set optim.backbone_multiplier=1.0 $COMMON $NARROW \
    --set run.checkpoint_every=10 --set loss.center_weight=1.0 --set loss.center_layer=5 \
    --set loss.readout_weight=1.0 --set optim.lr=8.0e-5 \
    --set optim.lr_drop_epoch=$((STEPS_A * 6 / 100)) --set optim.lr_gamma=0.333333 \
    --set "$DATA" --init "$INIT" --max-steps "$STEPS_A"
# B) self-distillation over all 15 blocks (exits 5..15), batch 8, LR 4e-5.
phase real_B --config config/train/distill.yaml --set optim.batch_size=8 \
    --set data.samples_per_epoch=160 --set optim.lr=4.0e-5 $NARROW $COMMON \
    --set run.checkpoint_every=5 --set "$DATA" \
    --init "$STATE/real_A/last.safetensors" --max-steps "$STEPS_B"
# C) optional: sequence-level sparse training with self-rollout of the Pico exit, LR 1e-5.
[ "${PHASE_C:-0}" = 1 ] && phase real_C --config config/train/sparse.yaml --set model.depth=6 --set optim.batch_size=2 \
    --set data.clip_length=8 --set data.samples_per_epoch=$((STEPS_C * 2)) --set optim.epochs=1 \
    --set optim.lr=1.0e-5 --set optim.backbone_multiplier=1.0 --set "$DATA" \
    --set data.workers=1 --set run.threads=$THREADS \
    --init "$STATE/real_B/last.safetensors"

"$PY" - "$STATE" <<'PYEOF'
import os
import sys
import torch
from fartrack_ros.model.checkpoint import build_model, save_weights
state = sys.argv[1]
for name in ("real_A", "real_B", "real_C"):
    if os.path.isfile(f"{state}/{name}/last.safetensors"):
        save_weights(f"{state}/{name}.safetensors", build_model(f"{state}/{name}/last.safetensors", depth=6),
                     dtype=torch.float16,
                     extra={"trained_by": "scripts/train_real_weights.sh", "default_variant": "pico"})
        print(f"{state}/{name}.safetensors")
PYEOF
# The confidence head is trained last, so it always matches the weights it reads.
cp "$STATE/real_B.safetensors" "$STATE/default.safetensors"
$PY -m fartrack_ros train-score --weights "$STATE/default.safetensors" --real-train "$REAL" --threads "$THREADS"
if [ "${INSTALL:-0}" = 1 ]; then
    cp "$STATE/default.safetensors" fartrack_ros/weights/fartrack_default.safetensors
    chmod 644 fartrack_ros/weights/fartrack_default.safetensors
fi
echo "$STATE/default.safetensors"
