# unseen: the half-known generator, the code-fitting choice on validation, then the four protocols on 3 seeds
# (PROTOCOL.md). From a checkout of the pinned commit: nohup bash docs/runs/unseen/queue.sh >> logs/unseen.log 2>&1 &
# Every step resumes or skips what it finished. Set CODE_OPTIONS to the chosen code settings before step 3.
set -u
export PYTHONPATH=$PWD
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
$PY experiments/pretrain_generator.py --preset cpu --dataset imagefolder:../shared/data/cifar10-jpeg-more \
  --classes dog,truck,automobile,cat,ship --iterations 3500 --no-progress --out runs/unseen/half-known.pt
$PY experiments/preset_sweep.py --dataset $DATA --generator generators/demo-tinyimagenet32-100-cpu.pt --preset quick \
  --methods itgan --validation-per-class 200 --name unseen-codes --no-progress \
  --setting "s50-lr01=--code-steps 50 --code-lr 0.01" --setting "s50-lr05=--code-steps 50 --code-lr 0.05" \
  --setting "s200-lr01=--code-steps 200 --code-lr 0.01" --setting "s200-lr05=--code-steps 200 --code-lr 0.05"
[ -n "${CODE_OPTIONS:-}" ] || { echo "set CODE_OPTIONS to the chosen code settings (runs/unseen-codes/sweep.json)"; exit 0; }
METHODS=itgan,inversion,gan-fresh,exemplar,jpeg,naive
for seed in 0 1 2; do
  $PY experiments/split_cifar100.py --preset quick --dataset $DATA --methods $METHODS --seed $seed $CODE_OPTIONS \
    --generator generators/demo-cifar10-cpu.pt --name unseen-today-seed$seed --no-progress
  $PY experiments/split_cifar100.py --preset quick --dataset $DATA --methods $METHODS --seed $seed $CODE_OPTIONS \
    --generator generators/demo-cifar10-cpu.pt --class-codes all --name unseen-control-seed$seed --no-progress
  $PY experiments/split_cifar100.py --preset quick --dataset $DATA --methods $METHODS --seed $seed $CODE_OPTIONS \
    --generator generators/demo-tinyimagenet32-100-cpu.pt --name unseen-generic-seed$seed --no-progress
  $PY experiments/split_cifar100.py --preset quick --dataset $DATA --methods $METHODS --seed $seed $CODE_OPTIONS \
    --generator runs/unseen/half-known.pt --name unseen-half-seed$seed --no-progress
done
