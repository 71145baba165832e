# The unseen queue (docs/runs/unseen/queue.sh at 206d28d) split into two one-thread lanes that never share a run:
#   bash unseen-lanes.sh a   # code validations generic and shipped, then control and generic protocols, seeds 0-2
#   bash unseen-lanes.sh b   # code validation of the half-known generator, then the half-known protocol, seeds 0-2
# Lane a needs today's runs finished; lane b needs runs/unseen/half-known.pt. Each step skips or resumes what it finished.
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
SHIPPED=generators/demo-cifar10-cpu.pt
GENERIC=generators/demo-tinyimagenet32-100-cpu.pt
HALF=runs/unseen/half-known.pt
validate() {
  [ -f runs/unseen-codes-$1/class_codes.json ] || $PY experiments/class_code_validation.py --dataset $DATA \
    --generator $2 --preset quick --validation-per-class 200 --out runs/unseen-codes-$1 --no-progress \
    --setting "s50-lr01=--code-steps 50 --code-lr 0.01" --setting "s50-lr05=--code-steps 50 --code-lr 0.05" \
    --setting "s200-lr01=--code-steps 200 --code-lr 0.01" --setting "s200-lr05=--code-steps 200 --code-lr 0.05"
}
protocol() {  # name generator seed
  CODE_OPTIONS=$($PY -c "import json; print(' '.join(json.load(open('runs/unseen-codes-generic/class_codes.json'))['chosen']['options']))")
  $PY experiments/split_cifar100.py --preset quick --dataset $DATA --no-progress --generator $2 --seed $3 \
    --methods itgan,inversion,gan-fresh $CODE_OPTIONS $([ $1 = control ] && echo --class-codes all) --name unseen-$1-seed$3
}
case $1 in
  a) validate generic $GENERIC; validate shipped $SHIPPED
     for seed in 0 1 2; do protocol control $SHIPPED $seed; protocol generic $GENERIC $seed; done ;;
  b) [ -f $HALF ] || { echo "no $HALF yet: finish the half-known pretraining first" >&2; exit 1; }
     validate half $HALF
     while [ ! -f runs/unseen-codes-generic/class_codes.json ]; do sleep 60; done
     for seed in 0 1 2; do protocol half $HALF $seed; done ;;
  *) echo "usage: bash unseen-lanes.sh a|b" >&2; exit 2 ;;
esac
