# honest: the privacy report with real attackers (latent space with and without seeds, membership against
# cifar10-jpeg-more photos, nulls) on the quick preset. One thread each, beside the 64-px long run. From a checkout of the pinned commit:
#   nohup bash docs/runs/privacy-attackers/queue.sh >> logs/evidence.log 2>&1 &
# Each step resumes or skips what it finished (the main job keeps finished methods; the report is rerun whole).
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
DATA=imagefolder:../shared/data/cifar10-jpeg
[ -f runs/privacy-attackers/privacy.json ] || $PY experiments/privacy_report.py --dataset $DATA \
  --feature-dataset imagefolder:../shared/data/cifar10-jpeg-more --generator generators/demo-cifar10-cpu.pt \
  --preset quick --out runs/privacy-attackers --no-progress
# itgan-random's three seeds beside itgan moved to docs/runs/unseen/queue.sh (the today protocol's runs), so that
# they come from the same commit as the unseen protocols; this queue was stopped after the report.
