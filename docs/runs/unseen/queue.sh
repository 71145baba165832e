# unseen (PROTOCOL.md, as amended): today's protocol with itgan-random (also the honest issue's three seeds), the
# half-known generator, the code settings chosen on validation, then the control, generic and half-known protocols on
# 3 seeds, all from one commit. From a checkout of the pinned commit:
#   nohup bash docs/runs/unseen/queue.sh >> logs/unseen.log 2>&1 &
# Every step resumes or skips what it finished; a failed step stops the queue. One thread: a long run has the other core.
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
SHIPPED=generators/demo-cifar10-cpu.pt
GENERIC=generators/demo-tinyimagenet32-100-cpu.pt
HALF=runs/unseen/half-known.pt
stream() { $PY experiments/split_cifar100.py --preset quick --dataset $DATA --no-progress "$@"; }
for seed in 0 1 2; do
  stream --generator $SHIPPED --seed $seed --methods itgan,itgan-random,inversion,gan-fresh,exemplar,jpeg,naive \
    --name unseen-today-seed$seed
done
[ -f $HALF ] || $PY experiments/pretrain_generator.py --preset cpu --dataset imagefolder:../shared/data/cifar10-jpeg-more \
  --classes dog,truck,automobile,cat,ship --iterations 3500 --no-progress --out $HALF
for g in generic=$GENERIC shipped=$SHIPPED half=$HALF; do
  [ -f runs/unseen-codes-${g%%=*}/class_codes.json ] || $PY experiments/class_code_validation.py --dataset $DATA \
    --generator ${g#*=} --preset quick --validation-per-class 200 --out runs/unseen-codes-${g%%=*} --no-progress \
    --setting "s50-lr01=--code-steps 50 --code-lr 0.01" --setting "s50-lr05=--code-steps 50 --code-lr 0.05" \
    --setting "s200-lr01=--code-steps 200 --code-lr 0.01" --setting "s200-lr05=--code-steps 200 --code-lr 0.05"
done
CODE_OPTIONS=$($PY -c "import json; print(' '.join(json.load(open('runs/unseen-codes-generic/class_codes.json'))['chosen']['options']))")
echo "code settings chosen on validation: $CODE_OPTIONS"
for seed in 0 1 2; do
  for p in control=$SHIPPED generic=$GENERIC half=$HALF; do
    stream --generator ${p#*=} --seed $seed --methods itgan,inversion,gan-fresh $CODE_OPTIONS \
      $([ ${p%%=*} = control ] && echo --class-codes all) --name unseen-${p%%=*}-seed$seed
  done
done
