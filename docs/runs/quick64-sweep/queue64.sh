# The res64 evidence queue, from a checkout of the commit it runs at, with seeds64.sh and sweep64.sh in logs/.
# Idempotent: after a restart (docs/runs/in-progress/carry.sh restore) run it again and it goes on where it stopped.
#   nohup bash logs/queue64.sh >> logs/queue64.log 2>&1 &
set -u
for s in 1 2; do  # seeds 1 and 2 side by side, one thread each (not a timing)
  [ -f runs/q64-seed$s/results.json ] || OMP_NUM_THREADS=1 bash logs/seeds64.sh $s >> logs/q64-seed$s.log 2>&1 &
done
wait
# seed 0 alone on both cores: the preset's timing as well as the table's third seed
[ -f runs/q64-seed0/results.json ] || bash logs/seeds64.sh 0 >> logs/q64-seed0.log 2>&1 || exit 1
# the sweep's 1.3 MB point is seed 0's (same settings and commit: the sweep loads these methods)
if [ ! -d runs/q64sweep-1300000 ]; then
  mkdir -p runs/q64sweep-1300000/methods
  for m in exemplar jpeg jpeg32 itgan; do cp runs/q64-seed0/methods/$m.json runs/q64sweep-1300000/methods/; done
fi
# the other budgets in two one-thread halves side by side, then one pass that loads them all into sweep.json.
# 1.6 MB, not 1.8 MB: from about 1.795 MB on, itgan holds one latent per training photo (500 a class, the cap), so
# its 1.8 MB run would repeat the 2.5 MB one; 1.6 MB (424 a class) is the last point below the cap
OMP_NUM_THREADS=1 bash logs/sweep64.sh 600000 2500000 >> logs/sweep64-a.log 2>&1 &
OMP_NUM_THREADS=1 bash logs/sweep64.sh 1000000 1600000 >> logs/sweep64-b.log 2>&1 &
wait
bash logs/sweep64.sh 600000 1000000 1300000 1600000 2500000 >> logs/sweep64.log 2>&1
