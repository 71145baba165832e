# Issue hundred's evidence queue, from a checkout of the commit it runs at, with seeds100.sh in logs/.
# Idempotent: after a restart (docs/runs/in-progress/carry.sh restore) run it again and it goes on where it stopped.
#   nohup bash logs/queue100-seeds.sh >> logs/queue100-seeds.log 2>&1 &
set -u
# seed 0 alone on both cores: the preset's timing (90 minutes or less) as well as the table's first seed
[ -f runs/h100-seed0/results.json ] || bash logs/seeds100.sh 0 >> logs/h100-seed0.log 2>&1 || exit 1
for s in 1 2; do  # seeds 1 and 2 side by side, one thread each (not a timing)
  [ -f runs/h100-seed$s/results.json ] || OMP_NUM_THREADS=1 bash logs/seeds100.sh $s >> logs/h100-seed$s.log 2>&1 &
done
wait
