# unseen (PROTOCOL.md, as amended): today's protocol with itgan-random (also the honest issue's three seeds), the
# half-known generator, the code settings chosen on validation, then the control, generic and half-known protocols on
# 3 seeds, all from one commit. From a checkout of the pinned commit (206d28d), one thread a lane:
#   nohup bash docs/runs/unseen/queue.sh >> logs/unseen.log 2>&1 &          # everything, in order, in one lane
#   nohup bash docs/runs/unseen/queue.sh a >> logs/lane-a.log 2>&1 &        # two lanes that share the protocol runs:
#   nohup bash docs/runs/unseen/queue.sh b >> logs/lane-b.log 2>&1 &
# Lane a: today's protocol, the code validations of the generic and shipped generators. Lane b: the half-known
# pretraining and its code validation. Then both take the 9 protocol runs from opposite ends of one list (a: control
# and generic first; b: half-known first), skipping a run that is finished or that the other lane holds (flock), so
# neither lane idles while the other has work. Every step resumes or skips what it finished; a failed step stops the lane.
# The pinned checkout's own copy of this file predates the lanes: run this one (../../docs/runs/unseen/queue.sh).
# Once all 9 are finished, `bash ../../docs/runs/unseen/queue.sh summary` (from the worktree) writes each protocol's
# summary (JSON, and the printed table as summary.txt) with main's seed_summary.py (paired with today's exemplar and itgan, seed by seed) and copies its runs'
# results and curves into main's docs/runs/unseen/<protocol>/.
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
SHIPPED=generators/demo-cifar10-cpu.pt
GENERIC=generators/demo-tinyimagenet32-100-cpu.pt
HALF=runs/unseen/half-known.pt
stream() { $PY experiments/split_cifar100.py --preset quick --dataset $DATA --no-progress "$@"; }
finished() {  # run-name method...: every method's result file is written
  local run=$1; shift
  for method in "$@"; do [ -f runs/$run/methods/$method.json ] || return 1; done
}
today() {
  local methods=itgan,itgan-random,inversion,gan-fresh,exemplar,jpeg,naive
  for seed in 0 1 2; do
    finished unseen-today-seed$seed ${methods//,/ } ||
      stream --generator $SHIPPED --seed $seed --methods $methods --name unseen-today-seed$seed
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
generator_of() { case $1 in control) echo $SHIPPED ;; generic) echo $GENERIC ;; half) echo $HALF ;; esac; }
protocol() {  # name seed; the code settings chosen with the generic generator; skipped if finished or held by the other lane
  local run=unseen-$1-seed$2
  finished $run itgan inversion gan-fresh && return 0
  while [ ! -f runs/unseen-codes-generic/class_codes.json ]; do sleep 60; done
  mkdir -p runs/locks
  exec 9> runs/locks/$run
  if ! flock -n 9; then echo "$run: the other lane runs it"; exec 9>&-; return 0; fi
  CODE_OPTIONS=$($PY -c "import json; print(' '.join(json.load(open('runs/unseen-codes-generic/class_codes.json'))['chosen']['options']))")
  echo "code settings chosen on validation: $CODE_OPTIONS"
  stream --generator $(generator_of $1) --seed $2 --methods itgan,inversion,gan-fresh $CODE_OPTIONS \
    $([ $1 = control ] && echo --class-codes all) --name $run
  exec 9>&-
}
RUNS="control:0 generic:0 control:1 generic:1 control:2 generic:2 half:2 half:1 half:0"  # lane a's order; b's reversed
protocols() {  # run...
  for entry in "$@"; do protocol ${entry%:*} ${entry#*:}; done
}
lane_a() { today; validate generic $GENERIC; validate shipped $SHIPPED; protocols $RUNS; }
lane_b() { half_generator; validate half $HALF; protocols $(echo $RUNS | tr ' ' '\n' | tac); }
CLASS_GROUPS="--class-group known=dog,truck,automobile,cat,ship --class-group unknown=frog,airplane,horse,bird,deer
  --class-group neighbour=cat,dog,frog,bird,truck --class-group no-neighbour=airplane,automobile,deer,horse,ship"
summary() {  # from main's root: its seed_summary.py has --versus
  local today=docs/runs/unseen/today/summary.json
  for name in control generic half; do
    (cd ../.. && mkdir -p docs/runs/unseen/$name &&
      .venv/bin/python experiments/seed_summary.py .worktrees/unseen/runs/unseen-$name-seed{0,1,2} $CLASS_GROUPS \
        --versus $today:exemplar --versus $today:itgan --out docs/runs/unseen/$name/summary.json |
        tee docs/runs/unseen/$name/summary.txt)
    for seed in 0 1 2; do
      for file in results.json curves.png; do cp runs/unseen-$name-seed$seed/$file ../../docs/runs/unseen/$name/seed$seed-$file; done
    done
  done
}
case ${1:-all} in
  summary) summary ;;
  a) lane_a ;;
  b) lane_b ;;
  all) lane_a; lane_b ;;
  *) echo "usage: bash queue.sh [a|b|summary]" >&2; exit 2 ;;
esac
