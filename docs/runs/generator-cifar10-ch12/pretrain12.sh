# Issue lean: a wider (ch 12) generator for CIFAR-10, pretrained on cifar10-jpeg-more (never the stream's photos),
# everything else the `cpu` preset. From the repository root (or a checkout with `../shared`):
#   nohup bash docs/runs/generator-cifar10-ch12/pretrain12.sh >> logs/pretrain12.log 2>&1 &
# Resumable: a run killed mid-way continues from the checkpoint in generators/demo-cifar10-cpu-ch12.work/
# (carry that folder's checkpoint.pt across sessions; it is not tracked otherwise).
set -eu
work=generators/demo-cifar10-cpu-ch12.work
resume=""; [ -f "$work/checkpoint.pt" ] && resume="--resume"
PYTHONPATH=$PWD exec .venv/bin/python experiments/pretrain_generator.py --preset cpu --ch 12 \
  --dataset imagefolder:../shared/data/cifar10-jpeg-more --validation-per-class 20 \
  --out generators/demo-cifar10-cpu-ch12.pt --workdir "$work" --no-progress $resume
