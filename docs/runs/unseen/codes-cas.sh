# unseen: how much of its class each generator's codes carry (class_code_validation.py --cas), with the code setting
# the protocols use (s200-lr01), on the same validation split (200 a class) as the code-setting validations; a
# diagnostic beside the protocols, from a checkout of f39db66 (.worktrees/codecas, with the half-known generator
# copied to runs/half-known.pt), one thread:
#   nohup bash ../../docs/runs/unseen/codes-cas.sh >> logs/codes-cas.log 2>&1 &
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
for pair in generic:generators/demo-tinyimagenet32-100-cpu.pt half:runs/half-known.pt shipped:generators/demo-cifar10-cpu.pt; do
  name=${pair%%:*}; gen=${pair#*:}
  [ -f runs/codes-cas-$name/class_codes.json ] || .venv/bin/python experiments/class_code_validation.py \
    --dataset imagefolder:../shared/data/cifar10-jpeg --generator $gen --preset quick --validation-per-class 200 \
    --setting "s200-lr01=--code-steps 200 --code-lr 0.01" --cas --out runs/codes-cas-$name --no-progress
done
