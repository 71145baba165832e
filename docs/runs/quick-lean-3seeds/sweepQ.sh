# usage: bash logs/sweepQ.sh BUDGET...   (seed 0; resumable: a rerun reuses the runs and methods finished at this commit)
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/budget_sweep.py --preset quick --dataset imagefolder:../shared/data/cifar10-jpeg \
  --generator "${GENERATOR:-generators/demo-cifar10-cpu.pt}" --seed 0 --name qLsweep --no-progress \
  --methods exemplar,jpeg,gan-fresh,itgan --budgets "$@"
