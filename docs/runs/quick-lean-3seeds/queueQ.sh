# Issue lean's evidence queue, from a checkout of the commit that holds the `quick` preset's storage choice, with
# seedsQ.sh and sweepQ.sh in logs/. Idempotent: after a restart (docs/runs/in-progress/carry.sh restore) run it again.
#   nohup bash logs/queueQ.sh >> logs/queueQ.log 2>&1 &
set -u
# seed 0 alone on both cores: the preset's timing (45 minutes or less) as well as the table's first seed
[ -f runs/qL-seed0/results.json ] || bash logs/seedsQ.sh 0 >> logs/qL-seed0.log 2>&1 || exit 1
for s in 1 2; do  # seeds 1 and 2 side by side, one thread each (not a timing)
  [ -f runs/qL-seed$s/results.json ] || OMP_NUM_THREADS=1 bash logs/seedsQ.sh $s >> logs/qL-seed$s.log 2>&1 &
done
wait
# Two one-thread lanes of about equal length. Lane 1: itgan with float32 latents at 1.3 MB on three seeds (the
# comparison with the chosen storage), then the sweep's 3 MB point, its longest. Lane 2: the sweep's other budgets;
# its 1.3 MB point is seed 0's run (same settings and commit: the sweep loads these methods).
if [ ! -d runs/qLsweep-1300000 ]; then
  mkdir -p runs/qLsweep-1300000/methods
  for m in exemplar jpeg gan-fresh itgan; do cp runs/qL-seed0/methods/$m.json runs/qLsweep-1300000/methods/; done
fi
export OMP_NUM_THREADS=1
{
  for s in 0 1 2; do
    [ -f runs/qL-f32-seed$s/results.json ] || bash logs/seedsQ.sh $s qL-f32-seed$s --methods itgan \
      --storage-dtype float32 >> logs/qL-f32.log 2>&1
  done
  bash logs/sweepQ.sh 3000000 >> logs/sweepQ-b.log 2>&1
} &
bash logs/sweepQ.sh 250000 500000 750000 1000000 2000000 >> logs/sweepQ-a.log 2>&1
wait
# one pass that loads every finished budget into sweep.json
unset OMP_NUM_THREADS
bash logs/sweepQ.sh 250000 500000 750000 1000000 1300000 2000000 3000000 >> logs/sweepQ.log 2>&1
