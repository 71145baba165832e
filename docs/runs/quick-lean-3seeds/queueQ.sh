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
# itgan with float32 latents at 1.3 MB, three seeds: the comparison with the chosen storage
for s in 0 1 2; do
  [ -f runs/qL-f32-seed$s/results.json ] || OMP_NUM_THREADS=1 bash logs/seedsQ.sh $s qL-f32-seed$s --methods itgan \
    --storage-dtype float32 >> logs/qL-f32.log 2>&1
done &
# the sweep: its 1.3 MB point is seed 0's (same settings and commit: the sweep loads these methods); the other
# budgets in one lane beside the float32 lane, then one pass that loads them all into sweep.json
if [ ! -d runs/qLsweep-1300000 ]; then
  mkdir -p runs/qLsweep-1300000/methods
  for m in exemplar jpeg gan-fresh itgan; do cp runs/qL-seed0/methods/$m.json runs/qLsweep-1300000/methods/; done
fi
OMP_NUM_THREADS=1 bash logs/sweepQ.sh 250000 500000 750000 1000000 2000000 3000000 >> logs/sweepQ-a.log 2>&1
wait
bash logs/sweepQ.sh 250000 500000 750000 1000000 1300000 2000000 3000000 >> logs/sweepQ.log 2>&1
