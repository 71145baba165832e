#!/usr/bin/env bash
# The GPU check: one script, one GPU, under 8 minutes; writes JSON to benchmarks/results/gpu/ (or $OUT_DIR).
#   bash benchmarks/gpu_check.sh                          # on a machine with a CUDA GPU, after `pip install -e .[dev]`
#   DM_REFERENCE=PATH bash benchmarks/gpu_check.sh        # with a checkout of VICO-UoE/DatasetCondensation
# Measures: regeneration images/s of the ch=64 generator (plain fp32, FrozenGenerator fp32 and bf16), of this
# project's architecture and of the IT-GAN authors' (imported by experiments/import_generator.py); one
# condensation step at ch=64 against the reference main_DM.py (skipped, and said so, without DM_REFERENCE);
# the replay overhead at ch=64; 300 iterations of the paper pretraining preset, fp32 and bf16 autocast.
# CHECK_DEVICE=cpu QUICK=1 runs the same steps on tiny settings (how the tests exercise this script).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DEVICE=${CHECK_DEVICE:-cuda}
OUT=${OUT_DIR:-benchmarks/results/gpu}
mkdir -p "$OUT"
if [ "$DEVICE" = cuda ] && ! "$PY" -c "import torch, sys; sys.exit(not torch.cuda.is_available())"; then
    echo "error: no CUDA GPU visible to torch; run this on a GPU machine (CHECK_DEVICE=cpu QUICK=1 for a dry run)" >&2
    exit 2
fi
if [ -n "${QUICK:-}" ]; then  # tiny settings: checks that every step runs and writes its JSON
    CH=2 REGEN="--chunk 8 --seconds 0.1 --repeats 1" CONDENSE="--classes 2 --ipc 10 --real 8 --steps 1"
    REPLAY="--images 10 --stored 20 --batch 4 --width 4 --repeats 1" PRETRAIN="--d-chs 2 --batch-size 4 --d-steps 1 --min-iterations 2"
else
    CH=64 REGEN="--chunk 500 --seconds 5 --repeats 3" CONDENSE="--steps 5"
    REPLAY="--repeats 2" PRETRAIN="--d-chs 64 --batch-size 50 --d-steps 4 --min-iterations 300"
fi
REFERENCE=()
[ -n "${DM_REFERENCE:-}" ] && REFERENCE=(--reference "$DM_REFERENCE")
"$PY" -c "import json, torch; print(json.dumps({'device': torch.cuda.get_device_name() if torch.cuda.is_available() else 'cpu', 'torch': torch.__version__}))" > "$OUT/device.json"
"$PY" benchmarks/regenerate.py --device "$DEVICE" --widths $CH --variants plain-fp32 frozen-fp32 frozen-bf16 $REGEN --out "$OUT/regenerate.json"
"$PY" benchmarks/regenerate.py --device "$DEVICE" --widths $CH --variants plain-fp32 frozen-fp32 frozen-bf16 $REGEN \
    --conditioning class --out "$OUT/regenerate_imported.json"
"$PY" benchmarks/condense_vs_dm.py --device "$DEVICE" --ch $CH --variants eager eager+bf16-targets eager+bf16-targets+bf16-grads --rounds 1 $CONDENSE "${REFERENCE[@]}" --out "$OUT/condense_vs_dm.json"
"$PY" benchmarks/replay_overhead.py --device "$DEVICE" --ch $CH $REPLAY --out "$OUT/replay_overhead.json"
"$PY" benchmarks/pretrain_step.py --device "$DEVICE" --ch $CH $PRETRAIN --variants current current-amp --seconds 0 --out "$OUT/pretrain_step.json"
echo "wrote $OUT/{device,regenerate,regenerate_imported,condense_vs_dm,replay_overhead,pretrain_step}.json"
