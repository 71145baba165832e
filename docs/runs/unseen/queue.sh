# unseen (PROTOCOL.md, as amended): today's protocol with itgan-random (also the honest issue's three seeds), the
# half-known generator, the code settings chosen on validation, then the control, generic and half-known protocols on
# 3 seeds, all from one commit. From a checkout of the pinned commit (206d28d), one thread a lane:
#   nohup bash docs/runs/unseen/queue.sh >> logs/unseen.log 2>&1 &          # everything, in order, in one lane
#   nohup bash docs/runs/unseen/queue.sh a >> logs/lane-a.log 2>&1 &        # two lanes that never share a run:
#   nohup bash docs/runs/unseen/queue.sh b >> logs/lane-b.log 2>&1 &
# Lane a: today's protocol, the code validations of the generic and shipped generators, then the control and generic
# protocols. Lane b: the half-known pretraining and its code validation, then (once lane a has chosen the code
# settings) the half-known protocol. Every step resumes or skips what it finished; a failed step stops the lane.
# The pinned checkout's own copy of this file predates the lanes: run this one (../../docs/runs/unseen/queue.sh).
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
SHIPPED=generators/demo-cifar10-cpu.pt
GENERIC=generators/demo-tinyimagenet32-100-cpu.pt
HALF=runs/unseen/half-known.pt
stream() { $PY experiments/split_cifar100.py --preset quick --dataset $DATA --no-progress "$@"; }
today() {
  for seed in 0 1 2; do
    stream --generator $SHIPPED --seed $seed --methods itgan,itgan-random,inversion,gan-fresh,exemplar,jpeg,naive \
      --name unseen-today-seed$seed
  done
}
half_generator() {
  [ -f $HALF ] || $PY experiments/pretrain_generator.py --preset cpu --dataset imagefolder:../shared/data/cifar10-jpeg-more \
    --classes dog,truck,automobile,cat,ship --iterations 3500 --no-progress --out $HALF
}
validate() {  # name generator
  [ -f runs/unseen-codes-$1/class_codes.json ] || $PY experiments/class_code_validation.py --dataset $DATA \
    --generator $2 --preset quick --validation-per-class 200 --out runs/unseen-codes-$1 --no-progress \
    --setting "s50-lr01=--code-steps 50 --code-lr 0.01" --setting "s50-lr05=--code-steps 50 --code-lr 0.05" \
    --setting "s200-lr01=--code-steps 200 --code-lr 0.01" --setting "s200-lr05=--code-steps 200 --code-lr 0.05"
}
protocol() {  # name generator seed; the code settings chosen with the generic generator
  while [ ! -f runs/unseen-codes-generic/class_codes.json ]; do sleep 60; done
  CODE_OPTIONS=$($PY -c "import json; print(' '.join(json.load(open('runs/unseen-codes-generic/class_codes.json'))['chosen']['options']))")
  echo "code settings chosen on validation: $CODE_OPTIONS"
  stream --generator $2 --seed $3 --methods itgan,inversion,gan-fresh $CODE_OPTIONS \
    $([ $1 = control ] && echo --class-codes all) --name unseen-$1-seed$3
}
lane_a() {
  today; validate generic $GENERIC; validate shipped $SHIPPED
  for seed in 0 1 2; do protocol control $SHIPPED $seed; protocol generic $GENERIC $seed; done
}
lane_b() {
  half_generator; validate half $HALF
  for seed in 0 1 2; do protocol half $HALF $seed; done
}
case ${1:-all} in
  a) lane_a ;;
  b) lane_b ;;
  all) lane_a; lane_b ;;
  *) echo "usage: bash queue.sh [a|b]" >&2; exit 2 ;;
esac
