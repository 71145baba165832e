# stronger: the 64-px generator trained 4x longer (20,000 iterations at batch 64; the shipped one had 5,000), on
# imagenette-64-more with 100 photos a class held out to score CAS, EMA snapshots every 2,000 iterations.
# From a checkout of the pinned commit (docs/runs/in-progress/carry.sh restore .worktrees/long64 gen64-long):
#   nohup bash docs/runs/gen64-long/long64.sh >> logs/long64.log 2>&1 &
# Rerunning it resumes from runs/gen64-long/work/checkpoint.pt. Settings: the cpu64 preset (bf16 autocast, lr 2e-4,
# EMA 0.998) with a discriminator twice as wide (d_ch 32, never stored), chosen by CAS on held-out photos in
# 1,000-iteration pilots (docs/runs/gen64-long/README.md).
set -u
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/pretrain_generator.py --preset cpu64 --dataset imagefolder:../shared/data/imagenette-64-more \
  --d-ch 32 --iterations 20000 --checkpoint-every 500 --snapshot-every 2000 --no-progress \
  --out runs/gen64-long/generator.pt --workdir runs/gen64-long/work
