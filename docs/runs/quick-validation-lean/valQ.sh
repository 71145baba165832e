# Issue lean: choose the `quick` preset's latent and generator storage on held-out training photos (100 a class
# of cifar10-jpeg's training photos, a draw seeded 0; never the test photos), seed 0, 1.3 MB, itgan alone.
# From a checkout of the commit it runs at, with this file in its logs/ and the venv linked:
#   nohup bash logs/valQ.sh >> logs/valQ.log 2>&1 &
# Idempotent: every run resumes at its next experience and skips finished methods. Two one-thread lanes.
# The wider generator's rows need generators/demo-cifar10-cpu-ch12.pt (docs/runs/generator-cifar10-ch12/).
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
V="--dataset imagefolder:../shared/data/cifar10-jpeg --preset quick --validation-per-class 100 --methods itgan --no-progress"
sweep() { .venv/bin/python experiments/preset_sweep.py $V "$@"; }
ch8="--generator generators/demo-cifar10-cpu.pt --name valQ"
{  # lane 1: the shipped generator in float16, latents in float32 (the preset today), float16, int8 and 4-bit
  sweep $ch8 --setting f32="--storage-dtype float32" --setting f16="--storage-dtype float16" >> logs/valQ-a.log 2>&1
  sweep $ch8 --setting int8="--storage-dtype int8" --setting int4="--storage-dtype int4" >> logs/valQ-b.log 2>&1
} &
{  # lane 2: the shipped generator in int8; the wider generator in int8 (about the float16 ch 8 generator's bytes)
  sweep $ch8 --setting g8-f16="--generator-dtype int8 --storage-dtype float16" >> logs/valQ-c.log 2>&1
  [ -f generators/demo-cifar10-cpu-ch12.pt ] && sweep --generator generators/demo-cifar10-cpu-ch12.pt --name valQ12 \
    --setting g8-f16="--generator-dtype int8 --storage-dtype float16" \
    --setting g8-int8="--generator-dtype int8 --storage-dtype int8" >> logs/valQ12.log 2>&1
} &
wait
# one pass over the finished runs of the shipped generator: valQ/sweep.json with all its settings
sweep $ch8 --setting f32="--storage-dtype float32" --setting f16="--storage-dtype float16" \
  --setting int8="--storage-dtype int8" --setting int4="--storage-dtype int4" \
  --setting g8-f16="--generator-dtype int8 --storage-dtype float16" >> logs/valQ.log 2>&1
