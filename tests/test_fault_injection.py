"""Kill -9 at seeded points, then rerun the same command: the result is bit-identical to an uninterrupted run.

Each job runs in a child process whose target function sends the process SIGKILL on its n-th call
(n drawn from a fixed seed), so nothing gets to clean up: no ``finally``, no signal handler, no flush.
"""
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import smoke_stream, write_image_folder
from itgan_replay.gan.generator import FrozenGenerator
from itgan_replay.memory.latent import LatentMemory
from strategies.checkpoint import checkpoint_settings

ROOT = Path(__file__).resolve().parents[1]
KILL_ON_CALL = """
import importlib, os, runpy, signal, sys
target, n, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
module, _, attribute = target.partition(":")
owner_name, _, name = attribute.rpartition(".")
owner = importlib.import_module(module)
if owner_name:
    owner = getattr(owner, owner_name)
original, calls = getattr(owner, name), [0]
def dies_on_call_n(*args, **kwargs):
    calls[0] += 1
    if calls[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(*args, **kwargs)
setattr(owner, name, dies_on_call_n)
sys.argv = [script, *sys.argv[4:]]
runpy.run_path(script, run_name="__main__")
"""


def run_script(script: str, args: list[str], kill: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    """``python experiments/<script> args``; with ``kill=(target, n)`` it is killed on the n-th call of target."""
    path = str(ROOT / "experiments" / script)
    command = [sys.executable, "-c", KILL_ON_CALL, kill[0], str(kill[1]), path] if kill else [sys.executable, path]
    return subprocess.run(command + args, capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"},
                          timeout=600)


def kill_point(seed: int, first: int, last: int) -> int:
    return random.Random(seed).randint(first, last)


def assert_killed(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == -signal.SIGKILL, result.stderr[-2000:]


def assert_no_corrupt_file(folder: Path) -> None:
    """Every checkpoint and results file in ``folder`` reads back whole (temporary files aside)."""
    for path in folder.rglob("*.ckpt"):
        assert checkpoint_settings(path) is not None  # checksum checked; raises StoredFileError if corrupt
    for path in folder.rglob("*.json"):
        json.loads(path.read_text())


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    return smoke_stream(tmp_path_factory.mktemp("faults"))


def main_job_args(stream, name: str) -> list[str]:
    root, dataset, generator = stream
    return ["--preset", "smoke", "--dataset", dataset, "--generator", str(generator), "--experiences", "2",
            "--methods", "itgan,exemplar", "--condense-iterations", "6", "--out-dir", str(root / "runs"),
            "--name", name, "--no-progress"]


def results(stream, name: str) -> dict:
    r = json.loads((stream[0] / "runs" / name / "results.json").read_text())["results"]
    return {m: {k: v for k, v in row.items() if k not in ("wall_s", "seconds", "inversions_reused")} for m, row in r.items()}


@pytest.fixture(scope="module")
def uninterrupted(stream):
    assert run_script("split_cifar100.py", main_job_args(stream, "whole")).returncode == 0
    return results(stream, "whole")


@pytest.mark.parametrize("target, first, last, seed", [
    ("itgan_replay.condensation.condense:Condenser.step", 1, 6, 0),  # mid-condensation (6 steps in experience 1)
    pytest.param("os:replace", 1, 3, 1, marks=pytest.mark.slow),  # a file written to its temporary name, not yet renamed
])
def test_main_job_killed_resumes_bit_identical(stream, uninterrupted, target, first, last, seed):
    name = f"killed-{seed}"
    n = kill_point(seed, first, last)
    assert_killed(run_script("split_cifar100.py", main_job_args(stream, name), kill=(target, n)))
    assert_no_corrupt_file(stream[0] / "runs" / name)
    resumed = run_script("split_cifar100.py", main_job_args(stream, name))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert results(stream, name) == uninterrupted
    if target.endswith("Condenser.step"):  # killed after the experience's inversions were stored: they were read back
        saved = json.loads((stream[0] / "runs" / name / "results.json").read_text())["results"]["itgan"]
        assert saved["inversions_reused"] > 0


def test_pretraining_killed_resumes_bit_identical(tmp_path):
    data = write_image_folder(tmp_path / "photos", ["a", "b"], n_train=6, n_test=3)
    common = ["--dataset", f"imagefolder:{data}", "--ch", "2", "--d-ch", "2", "--batch-size", "4", "--iterations", "6",
              "--checkpoint-every", "2", "--standing-batches", "1", "--cas-per-class", "4", "--cas-epochs", "1",
              "--validation-per-class", "1", "--no-progress"]
    whole, killed = tmp_path / "whole.pt", tmp_path / "killed.pt"
    assert run_script("pretrain_generator.py", common + ["--out", str(whole)]).returncode == 0
    n = kill_point(2, 3, 6)  # a step after the first checkpoint (iteration 2)
    assert_killed(run_script("pretrain_generator.py", common + ["--out", str(killed)],
                             kill=("itgan_replay.gan.pretrain:GANTrainer.step", n)))
    assert not killed.exists()
    other = run_script("pretrain_generator.py", common + ["--out", str(killed), "--lr-g", "0.001"])
    assert other.returncode == 2 and "(setting: (saved, now) = {'lr_g': (0.0002, 0.001)})" in other.stderr  # never restarted
    resumed = run_script("pretrain_generator.py", common + ["--out", str(killed)])  # the same command resumes
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "resuming" in resumed.stdout and "at iteration 2 of 6" in resumed.stdout
    assert FrozenGenerator.load(killed).fingerprint == FrozenGenerator.load(whole).fingerprint
    report = {k: v for k, v in json.loads(killed.with_suffix(".json").read_text()).items() if k not in ("train_seconds", "images_per_s")}
    assert report == {k: v for k, v in json.loads(whole.with_suffix(".json").read_text()).items() if k in report}


def test_dataset_condensation_killed_keeps_finished_jobs_and_ends_bit_identical(stream, tmp_path):
    _, dataset, generator = stream
    common = ["--generator", str(generator), "--dataset", dataset, "--latents-per-class", "4", "--condense-subset-size", "2",
              "--condense-iterations", "2", "--condense-real-batch", "4", "--inversion-steps", "1", "--embedding-width", "8",
              "--no-progress"]
    whole, killed = tmp_path / "whole.pt", tmp_path / "killed.pt"
    assert run_script("condense_dataset.py", common + ["--out", str(whole)]).returncode == 0
    n = kill_point(3, 2, 8)  # 8 jobs (4 classes x 2 subsets), one job per call: at least one finished first
    assert_killed(run_script("condense_dataset.py", common + ["--out", str(killed)],
                             kill=("itgan_replay.condensation.condense:Condenser.run_job", n)))
    assert not killed.exists()
    resumed = run_script("condense_dataset.py", common + ["--out", str(killed)])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"ran {8 - (n - 1)} job(s)" in resumed.stdout  # the finished jobs were kept, not rerun
    g = FrozenGenerator.load(generator)
    a, b = LatentMemory.load(whole, g), LatentMemory.load(killed, g)
    assert a.classes == b.classes and all(torch.equal(a.latents[c], b.latents[c]) for c in a.classes)
