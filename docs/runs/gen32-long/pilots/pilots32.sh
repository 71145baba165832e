# stronger: CIFAR-10 pretraining pilots before the 32-px long run, on cifar10-jpeg-more (100 photos a class held
# out), the cpu preset's recipe as the shipped generator had it (ch 8, float32) against a wider discriminator and
# bf16 autocast, 1,500 iterations each, EMA snapshots every 500; one after another on one thread, beside the
# 64-px long run (not timings). Then CAS of the snapshots at 1,000 iterations on the held-out photos, 2 seeds.
# From a checkout of the pinned commit:
#   nohup bash docs/runs/gen32-long/pilots/pilots32.sh >> logs/pilots32.log 2>&1 &
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
data=imagefolder:../shared/data/cifar10-jpeg-more
pilot() {  # name, options
  name=$1; shift
  [ -f runs/pilots32/$name.json ] || .venv/bin/python experiments/pretrain_generator.py --preset cpu --dataset $data \
    --iterations 1500 --checkpoint-every 250 --snapshot-every 500 --no-progress --out runs/pilots32/$name.pt "$@" \
    >> logs/pilot32-$name.log 2>&1
}
pilot fp32-dch16
pilot fp32-dch32 --d-ch 32
pilot bf16-dch16 --amp 1
pilot bf16-dch32 --amp 1 --d-ch 32
.venv/bin/python experiments/score_generators.py runs/pilots32/*.work/snapshots/iter_001000.pt --dataset $data \
  --out runs/pilots32/cas-1000.json
