# usage: bash logs/val64.sh SWEEPNAME METHODS 'NAME=OPTIONS' ...   (one thread; resumable)
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
name=$1; methods=$2; shift 2
args=(); for s in "$@"; do args+=(--setting "$s"); done
exec .venv/bin/python experiments/preset_sweep.py --preset quick64 --dataset imagefolder:../shared/data/imagenette-64 \
  --generator generators/demo-imagenette64-cpu.pt --validation-per-class 100 --no-progress --name "$name" \
  --methods "$methods" "${args[@]}"
