# CAS of the pilots' EMA snapshots at 1,000 iterations, on the 100 held-out imagenette-64-more photos a class, 2 seeds
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
.venv/bin/python experiments/score_generators.py "$@" --dataset imagefolder:../../../shared/data/imagenette-64-more \
  --out "${OUT:-runs/pilots/cas-1000.json}"
