# stronger, item 5: replay accuracy against generator quality, one stream size at a time.
#   nohup bash docs/runs/accuracy-vs-cas/acc-cas.sh 64|32 SNAPSHOT_DIR >> logs/acc-cas-SIZE.log 2>&1 &
# Scores every EMA snapshot in SNAPSHOT_DIR (a long pretraining's work/snapshots) by CAS on the generator's held-out
# `-more` photos (2 classifier seeds), then runs the preset's stream on 100 held-out training photos a class (never its
# test photos), seed 0: `jpeg` and `exemplar` once as lines, `itgan` and `gan-fresh` with each snapshot. Everything
# resumes: a rerun skips the snapshots scored and the runs finished at this commit, and takes new snapshots as the
# long run writes them. One thread. Results: runs/acc-cas-SIZE/accuracy_vs_cas.{json,png}.
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
size=${1:?64 or 32}; snapshots=${2:?a folder of EMA snapshots}
case $size in
  64) stream=imagenette-64; preset=quick64 ;;
  32) stream=cifar10-jpeg; preset=quick ;;
  *) echo "usage: bash acc-cas.sh 64|32 SNAPSHOT_DIR" >&2; exit 2 ;;
esac
PY=.venv/bin/python
mkdir -p runs
echo "$(date -u +%H:%M) scoring $snapshots"
$PY experiments/score_generators.py "$snapshots" --dataset imagefolder:../shared/data/$stream-more \
  --out runs/acc-cas-$size-cas.json
echo "$(date -u +%H:%M) replay runs"
$PY experiments/accuracy_vs_cas.py runs/acc-cas-$size-cas.json --dataset imagefolder:../shared/data/$stream \
  --preset $preset --name acc-cas-$size --no-progress
echo "$(date -u +%H:%M) done"
