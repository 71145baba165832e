# The evidence of the core that the long run leaves (one thread), in the brief's order, from one commit: the honest
# issue's itgan-random beside itgan on 3 seeds (the first methods of the unseen issue's today runs), the stronger
# issue's CIFAR-10 pilots, then the unseen protocols (docs/runs/unseen/queue.sh reuses the finished methods).
# From a checkout of the pinned commit: nohup bash docs/runs/evidence-queue.sh >> logs/evidence-queue.log 2>&1 &
# Each step resumes or skips what it finished; a failed step stops the queue.
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
for seed in 0 1 2; do
  .venv/bin/python experiments/split_cifar100.py --preset quick --dataset imagefolder:../shared/data/cifar10-jpeg \
    --generator generators/demo-cifar10-cpu.pt --seed $seed --methods itgan,itgan-random --name unseen-today-seed$seed \
    --no-progress
done
bash docs/runs/gen32-long/pilots/pilots32.sh
bash docs/runs/unseen/queue.sh
