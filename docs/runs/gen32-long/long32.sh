# stronger: the CIFAR-10 generator trained 4x longer (14,000 iterations at batch 64; the shipped one had 3,500), on
# cifar10-jpeg-more with 100 photos a class held out to score CAS, EMA snapshots every 2,000 iterations.
# From a checkout of the pinned commit (docs/runs/in-progress/carry.sh restore .worktrees/long32 gen32-long):
#   nohup bash docs/runs/gen32-long/long32.sh >> logs/long32.log 2>&1 &
# Rerunning it resumes from runs/gen32-long/work/checkpoint.pt (written every 250 iterations). Settings: the cpu
# preset as the shipped generator had it (ch 8, d_ch 16, float32: this project's CPUs have lacked native bf16 since
# 2026-12-06). d_ch 32 runs a step 3.2x slower here, 32 hours of 2 idle cores for 14,000 iterations, so the run keeps
# d_ch 16 (docs/runs/gen32-long/README.md). Threads: OMP_NUM_THREADS, as set.
set -u
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/pretrain_generator.py --preset cpu --dataset imagefolder:../shared/data/cifar10-jpeg-more \
  --d-ch 16 --iterations 14000 --checkpoint-every 250 --snapshot-every 2000 --no-progress \
  --out runs/gen32-long/generator.pt --workdir runs/gen32-long/work
