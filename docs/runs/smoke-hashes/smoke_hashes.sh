# usage: bash docs/runs/smoke-hashes/smoke_hashes.sh OUT_DIR   (from a checkout's root, with its .venv)
# The smoke run of README.md below: one thread, all methods; prints each method's final_model_sha256.
export PYTHONPATH=$PWD:$PWD/tests OMP_NUM_THREADS=1
out=$(realpath -m "$1")
.venv/bin/python -c "
import sys; from pathlib import Path; from conftest import smoke_stream
from experiments import split_cifar100
root, data, gen = smoke_stream(Path('$out'))
sys.exit(split_cifar100.main(['--preset', 'smoke', '--dataset', data, '--generator', str(gen), '--experiences', '2',
                              '--seed', '0', '--out-dir', str(root / 'runs'), '--name', 's', '--no-progress']))
" > "$out.log" 2>&1 || { echo "smoke run failed, see $out.log" >&2; exit 1; }
.venv/bin/python -c "
import json; r = json.load(open('$out/runs/s/results.json'))['results']
print(json.dumps({m: v['final_model_sha256'] for m, v in r.items()}, indent=1))"
