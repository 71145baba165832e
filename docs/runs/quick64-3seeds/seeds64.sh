# usage: bash logs/seeds64.sh SEED   (two threads; resumable: a rerun skips the methods finished at this commit)
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/split_cifar100.py --preset quick64 --dataset imagefolder:../shared/data/imagenette-64 \
  --generator generators/demo-imagenette64-cpu.pt --seed "$1" --name "q64-seed$1" --no-progress \
  --methods naive,joint,exemplar,jpeg,jpeg32,gan-fresh,gan-stored,inversion,itgan
