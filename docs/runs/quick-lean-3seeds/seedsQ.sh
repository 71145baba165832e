# Issue lean: the `quick` preset on cifar10-jpeg, all eight methods, one seed.
# usage: bash logs/seedsQ.sh SEED [NAME [OPTION...]]   (from a checkout of the commit it runs at, with the venv linked and
# ../shared/data; two threads unless OMP_NUM_THREADS says otherwise; resumable: a rerun resumes at the next experience
# and skips the methods finished at this commit). GENERATOR overrides the generator file.
seed=$1; name=${2:-qL-seed$1}; shift; [ $# -gt 0 ] && shift
export PYTHONPATH=$PWD
exec .venv/bin/python experiments/split_cifar100.py --preset quick --dataset imagefolder:../shared/data/cifar10-jpeg \
  --generator "${GENERATOR:-generators/demo-cifar10-cpu.pt}" --seed "$seed" --name "$name" --no-progress \
  --methods naive,joint,exemplar,jpeg,gan-fresh,gan-stored,inversion,itgan "$@"
