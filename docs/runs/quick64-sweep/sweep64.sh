# usage: bash logs/sweep64.sh BUDGET...   (seed 0; resumable: a rerun reuses the runs and methods finished at this commit)
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/budget_sweep.py --preset quick64 --dataset imagefolder:../shared/data/imagenette-64 \
  --generator generators/demo-imagenette64-cpu.pt --seed 0 --name q64sweep --no-progress \
  --methods exemplar,jpeg,jpeg32,itgan --budgets "$@"
