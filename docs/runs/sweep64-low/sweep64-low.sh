# stronger, item 6: where each memory wins at 64 px. The quick64 stream from where the int8 generator barely fits
# (261 KB of int8 weights, a few latents beside) to 1.3 MB, 0.62 MB (20 of the stream's own files a class) included.
# From a checkout of one commit, both cores, each phase resumable (a rerun reuses the runs finished at this commit):
#   nohup bash docs/runs/sweep64-low/sweep64-low.sh GENERATOR validation >> logs/sweep64-low.log 2>&1 &
#   nohup bash docs/runs/sweep64-low/sweep64-low.sh GENERATOR test >> logs/sweep64-low.log 2>&1 &
#   nohup bash docs/runs/sweep64-low/sweep64-low.sh GENERATOR seeds BUDGET BUDGET >> logs/sweep64-low.log 2>&1 &
# validation: every candidate on 100 held-out training photos a class (seed 0), the same choices for every method:
#   the JPEG quality of jpeg and jpeg32; the latents' storage (int8 or int4; the generator int8 for both latent
#   methods, the only form that fits below 0.52 MB); itgan's condensation iterations (200 only up to 0.62 MB, where
#   few latents make it cheap).
# test: each method's choice on the test photos (seed 0), with the whole stream as JPEG and joint training as lines.
# seeds: the choices at the budgets on both sides of a crossing, seeds 1, 2 and 3 (never the seed the choices used).
set -eu
export PYTHONPATH=$PWD
gen=${1:?generator file}; phase=${2:?validation, test or seeds}; shift 2
budgets="270000 400000 620000 900000 1300000"
sweep=(.venv/bin/python experiments/budget_sweep.py --preset quick64 --dataset imagefolder:../shared/data/imagenette-64
       --generator "$gen" --methods jpeg,jpeg32,exemplar,gan-fresh,itgan --no-progress)
case $phase in
  validation)
    settings=()
    for q in 10 25 50; do settings+=(--setting "jpeg:jq$q=--jpeg-quality $q"); done
    for q in 25 50 75; do settings+=(--setting "jpeg32:j32q$q=--jpeg32-quality $q"); done
    settings+=(--setting "gan-fresh:g8=--generator-dtype int8")
    for l in int8 int4; do
      for i in 50 200; do
        settings+=(--setting "itgan:g8-$l-i$i=--generator-dtype int8 --storage-dtype $l --condense-iterations $i")
      done
    done
    exec "${sweep[@]}" --budgets $budgets --seed 0 --validation-per-class 100 --name s64low-val "${settings[@]}" \
      --setting-up-to g8-int8-i200=620000 --setting-up-to g8-int4-i200=620000 ;;
  test)
    exec "${sweep[@]}" --budgets $budgets --seed 0 --chosen runs/s64low-val/sweep.json --name s64low-test \
      --ceiling-budget 3000000 ;;
  seeds)
    [ $# -ge 1 ] || { echo "seeds: give the budgets on both sides of a crossing" >&2; exit 2; }
    for seed in 1 2 3; do
      "${sweep[@]}" --budgets "$@" --seed $seed --chosen runs/s64low-val/sweep.json --name s64low-seed$seed
    done ;;
  *) echo "usage: bash sweep64-low.sh GENERATOR validation|test|seeds [BUDGET...]" >&2; exit 2 ;;
esac
