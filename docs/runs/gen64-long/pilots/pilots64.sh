# stronger: 64-px pretraining pilots on imagenette-64-more (100 photos a class held out), 1,500 iterations each,
# snapshots every 500; two one-thread lanes (not timings). From a checkout of the pinned commit:
#   nohup bash logs/pilots64.sh >> logs/pilots64.log 2>&1 &
set -u
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
data=imagefolder:../../../shared/data/imagenette-64-more
pilot() {  # name, options
  name=$1; shift
  [ -f runs/pilots/$name.json ] || .venv/bin/python experiments/pretrain_generator.py --preset cpu64 --dataset $data \
    --iterations 1500 --checkpoint-every 250 --snapshot-every 500 --no-progress --out runs/pilots/$name.pt "$@" \
    >> logs/pilot-$name.log 2>&1
}
{ pilot bf16; pilot bf16-dch32 --d-ch 32; } &
pilot fp32 --amp 0
wait
