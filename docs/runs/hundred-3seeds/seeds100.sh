# Issue hundred: the `hundred` preset on tinyimagenet32-100, all methods, one seed.
# usage: bash logs/seeds100.sh SEED   (from a checkout of the commit it runs at, with a `data` link to the unpacked
# tinyimagenet32-100 and the venv linked; two threads unless OMP_NUM_THREADS says otherwise; resumable: a rerun
# resumes at the next experience and skips the methods finished at this commit)
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/split_cifar100.py --preset hundred --dataset imagefolder:data/tinyimagenet32-100 \
  --generator generators/demo-tinyimagenet32-100-cpu.pt --seed "$1" --name "h100-seed$1" --no-progress \
  --methods naive,joint,exemplar,jpeg,gan-fresh,gan-stored,inversion,itgan
