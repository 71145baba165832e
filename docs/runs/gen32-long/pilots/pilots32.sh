# stronger: CIFAR-10 pretraining pilots before the 32-px long run, on cifar10-jpeg-more (100 photos a class held
# out): the cpu preset's recipe as the shipped generator had it (ch 8, float32, d_ch 16) against a discriminator
# twice as wide (d_ch 32, never stored), and bf16 autocast with each. 1,000 iterations each (as the 64-px pilots),
# EMA snapshots every 500; each arm's snapshots (0, 500, 1,000) are then scored by CAS on the held-out photos,
# 2 classifier seeds, into runs/pilots32/ARM-cas.json. One thread an arm; arms run one after another in a call,
# so two calls with different arms make two lanes. A bf16 arm on a CPU without native bf16 is skipped with a
# message (pretraining would refuse it). Every step resumes or skips what it finished (iterations can grow later:
# the pretraining resumes from its checkpoint). From a checkout of the pinned commit:
#   nohup bash docs/runs/gen32-long/pilots/pilots32.sh [ARM...] >> logs/pilots32.log 2>&1 &
# ARM: fp32-dch16 fp32-dch32 bf16-dch16 bf16-dch32 (default: all four, in that order).
set -eu
export PYTHONPATH=$PWD OMP_NUM_THREADS=1
PY=.venv/bin/python
data=imagefolder:../shared/data/cifar10-jpeg-more
options() {
  case $1 in
    fp32-dch16) ;;
    fp32-dch32) echo --d-ch 32 ;;
    bf16-dch16) echo --amp 1 ;;
    bf16-dch32) echo --amp 1 --d-ch 32 ;;
    *) echo "unknown arm $1 (fp32-dch16, fp32-dch32, bf16-dch16 or bf16-dch32)" >&2; return 2 ;;
  esac
}
native_bf16=$($PY -c "from itgan_replay.gan.pretrain import cpu_has_native_bf16; print(int(cpu_has_native_bf16()))")
mkdir -p runs/pilots32 logs
for arm in ${@:-fp32-dch16 fp32-dch32 bf16-dch16 bf16-dch32}; do
  arm_options=$(options $arm)
  if [[ $arm == bf16-* && $native_bf16 == 0 ]]; then
    echo "$(date -u +%H:%M) $arm: skipped, this CPU has no native bf16 (run this arm on one that has)"; continue
  fi
  echo "$(date -u +%H:%M) $arm: pretraining"
  [ -f runs/pilots32/$arm.pt ] || $PY experiments/pretrain_generator.py --preset cpu --dataset $data \
    --iterations 1000 --checkpoint-every 250 --snapshot-every 500 --no-progress --out runs/pilots32/$arm.pt \
    $arm_options >> logs/pilot32-$arm.log 2>&1
  echo "$(date -u +%H:%M) $arm: scoring its snapshots"
  $PY experiments/score_generators.py runs/pilots32/$arm.work/snapshots --dataset $data \
    --out runs/pilots32/$arm-cas.json >> logs/pilot32-$arm.log 2>&1
  echo "$(date -u +%H:%M) $arm: done"
done
