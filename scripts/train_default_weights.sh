#!/usr/bin/env bash
# How the shipped default weights (fartrack_ros/weights/fartrack_default.safetensors) were made:
# the three recipes of config/train/, shortened to a 2-core CPU budget (wall-clock limits per
# stage below), on the generated dataset. See fartrack_ros/weights/MODEL_CARD.md for the figures.
#   FRAME_MIN / DISTILL_MIN / SPARSE_STEPS bound each stage; the stage's last checkpoint is used.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
FRAME_MIN=${FRAME_MIN:-34}
DISTILL_MIN=${DISTILL_MIN:-14}
SPARSE_STEPS=${SPARSE_STEPS:-6}

[ -f data/generated/train/list.txt ] || $PY -m fartrack_ros make-dataset --out data/generated/train \
    --sequences 400 --frames 100 --seed 0 --split train

run_for() {  # minutes, then the training args; stops the run after that many minutes
  local minutes=$1; shift
  timeout --signal=INT "${minutes}m" $PY -m fartrack_ros train "$@" --no-progress || true
}

# Stage 1, frame-level, Pico depth (6 blocks) from fresh weights: no MAE file here, so the
# backbone learns at the full LR (backbone_multiplier 1.0 instead of 0.1).
run_for "$FRAME_MIN" --config config/train/frame.yaml --set model.depth=6 --set optim.batch_size=16 \
    --set data.samples_per_epoch=960 --set optim.epochs=1000 --set run.checkpoint_every=1 \
    --set data.workers=1 --set optim.backbone_multiplier=1.0 --set run.threads=2 --set run.log_every=10
# Stage 2, self-distillation over all 15 blocks (exits 5..15), from stage 1.
run_for "$DISTILL_MIN" --config config/train/distill.yaml --set optim.batch_size=8 \
    --set data.samples_per_epoch=320 --set optim.epochs=1000 --set run.checkpoint_every=1 \
    --set data.workers=1 --set optim.lr=1.0e-4 --set run.threads=2 --set run.log_every=10
# Stage 3, sparse sequence-level fine-tuning with self-rollout, from stage 2 (a few steps).
$PY -m fartrack_ros train --config config/train/sparse.yaml --set optim.batch_size=2 \
    --set data.clip_length=8 --set data.samples_per_epoch=$((2 * SPARSE_STEPS)) --set optim.epochs=1 \
    --set data.workers=1 --set run.threads=2 --no-progress
$PY - <<'PYEOF'
import torch
from fartrack_ros.model.checkpoint import build_model, save_weights
m = build_model("out/train/sparse/last.safetensors", depth=6)
save_weights("fartrack_ros/weights/fartrack_default.safetensors", m, dtype=torch.float16,
             extra={"trained_by": "scripts/train_default_weights.sh", "default_variant": "pico"})
PYEOF
