# Issue hundred: choose the `hundred` preset's latent storage and JPEG quality on held-out training photos.
# From a checkout of the commit it runs at, with this file in its logs/, a `data` link to the unpacked
# tinyimagenet32-100 and the venv linked (docs/runs/in-progress/carry.sh restore makes the checkout):
#   nohup bash logs/queue100.sh >> logs/queue100.log 2>&1 &
# Idempotent: every run resumes at its next experience and skips finished methods. Two one-thread lanes.
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
V="--dataset imagefolder:data/tinyimagenet32-100 --generator generators/demo-tinyimagenet32-100-cpu.pt --preset hundred
   --validation-per-class 50 --no-progress --name valH2"
sweep() { .venv/bin/python experiments/preset_sweep.py $V "$@"; }
{  # lane 1: float32 and float16 latents (62 and 125 a class), then the photo memories
  sweep --setting f32="" >> logs/valH2-f32.log 2>&1
  sweep --setting f16="--storage-dtype float16" >> logs/valH2-f16.log 2>&1
  sweep --name valH2jpeg --methods jpeg --setting q25="--jpeg-quality 25" --setting q50="--jpeg-quality 50" \
        --setting q75="--jpeg-quality 75" >> logs/valH2-jpeg.log 2>&1
  sweep --name valH2ex --methods exemplar --setting base="" >> logs/valH2-exemplar.log 2>&1
} &
sweep --setting int8="--storage-dtype int8" >> logs/valH2-int8.log 2>&1 &  # lane 2: int8 latents (243 a class)
wait
# one pass over the finished itgan runs: valH2/sweep.json with every latent storage (the photo memories have theirs)
sweep --setting f32="" --setting f16="--storage-dtype float16" --setting int8="--storage-dtype int8" >> logs/valH2.log 2>&1
