import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from itgan_replay import FrozenGenerator, LatentMemory
from itgan_replay.condensation.condense import CondenseConfig, CondenseJob, Condenser, plan_jobs, run_jobs
from itgan_replay.condensation.distributed import (SHARD_KIND, SHARD_VERSION, ShardMergeError, assign, merge_shards,
                                                   run_distributed)
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.nets import EmbeddingSampler
from itgan_replay.memory.files import load_checked
from conftest import smoke_stream, tiny_generator

ROOT = Path(__file__).resolve().parents[1]

CONFIG = CondenseConfig(iterations=2, lr=0.05, real_batch=8, subset_size=3)


def work():
    torch.set_num_threads(1)
    generator = tiny_generator()
    g = torch.Generator().manual_seed(0)
    real = {c: torch.randn(8, 3, 32, 32, generator=g) + c for c in range(3)}
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), CONFIG, inversion=InversionConfig(steps=2))
    return condenser, plan_jobs({0: 6, 1: 5, 2: 3}, CONFIG, seed=1), real


def worker(rank, world, rendezvous, shard_dir, out_dir, fail_rank):
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=world)
    condenser, jobs, real = work()
    finished = []

    def progress(job, step, loss):
        if rank == fail_rank and finished and job.key != finished[-1]:
            raise RuntimeError("simulated crash at the start of the second job")
        if step == CONFIG.iterations:
            finished.append(job.key)
    try:
        latents, ran = run_distributed(condenser, jobs, real, shard_dir, progress)
        torch.save({"ran": ran, "latents": latents}, out_dir / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def launch(tmp_path, fail_rank=-1):
    # a file rendezvous in the test's own folder: no port is picked and bound later, so nothing can race for it
    rendezvous = tmp_path / f"rendezvous-{len(list(tmp_path.glob('rendezvous-*')))}"
    mp.spawn(worker, args=(2, rendezvous, tmp_path / "shards", tmp_path, fail_rank), nprocs=2)
    return [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]


@pytest.fixture(scope="module")
def reference():
    threads = torch.get_num_threads()
    condenser, jobs, real = work()
    try:
        return run_jobs(condenser, jobs, real)
    finally:
        torch.set_num_threads(threads)


def test_two_gloo_processes_equal_one_process(tmp_path, reference):
    rank0, rank1 = launch(tmp_path)
    assert rank1["latents"] is None
    assert set(rank0["latents"]) == set(reference)
    assert all(torch.equal(rank0["latents"][c], reference[c]) for c in reference)


def test_killed_rank_restarts_without_redoing_finished_jobs(tmp_path, reference):
    with pytest.raises(Exception, match="simulated crash"):
        launch(tmp_path, fail_rank=1)
    _, jobs, _ = work()
    rank0, rank1 = launch(tmp_path)
    assert rank1["ran"] == len(assign(jobs, 2)[1]) - 1  # its first job came from the shard
    assert all(torch.equal(rank0["latents"][c], reference[c]) for c in reference)


def test_assignment_is_balanced_and_deterministic():
    jobs = [CondenseJob(c, 0, tuple(range(n)), c) for c, n in enumerate([5, 4, 3, 3, 1])]
    shares = assign(jobs, 2)
    assert [[j.label for j in s] for s in shares] == [[0, 3], [1, 2, 4]]  # loads 5+3 and 4+3+1
    assert assign(jobs, 2) == shares


def test_merge_reports_missing_and_duplicated_jobs():
    jobs = [CondenseJob(0, 0, (0, 1), 0), CondenseJob(0, 1, (2,), 1)]
    z = torch.zeros(2, 4)
    with pytest.raises(ShardMergeError, match="more than one shard"):
        merge_shards([{"0:0": z, "0:1": z[:1]}, {"0:0": z}], jobs)
    with pytest.raises(ShardMergeError, match="have no result"):
        merge_shards([{"0:0": z}], jobs)
    with pytest.raises(ShardMergeError, match="not in the plan"):
        merge_shards([{"0:0": z, "0:1": z[:1], "5:0": z}], jobs)


def rank_pid(parent: int, rank: int) -> int | None:
    """The pid of torchrun's worker of ``rank`` among the descendants of ``parent`` (read from /proc), if started."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    for pid in map(int, children.read_text().split()) if children.exists() else []:
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return pid
        found = rank_pid(pid, rank)
        if found:
            return found
    return None


def shard_jobs(path: Path) -> int:
    """Finished jobs recorded in a rank's shard file (0 before it exists)."""
    if not path.exists():
        return 0
    return len(load_checked(path, SHARD_KIND, SHARD_VERSION)[1]["content"])


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc")
def test_a_sigkilled_rank_of_a_torchrun_condensation_reruns_to_the_uninterrupted_memory_bit_for_bit(tmp_path):
    _, dataset, generator = smoke_stream(tmp_path)
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                str(ROOT / "experiments" / "condense_dataset.py"), "--dataset", dataset, "--generator", str(generator),
                "--latents-per-class", "6", "--condense-subset-size", "2", "--condense-iterations", "40",
                "--condense-real-batch", "8", "--inversion-steps", "2", "--embedding-width", "8", "--no-progress"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([*torchrun, "--out", str(tmp_path / "reference.pt")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rng = random.Random(0)  # the seeded point: one rank, killed once its shard holds this many of its 6 jobs
    rank, after = rng.randrange(2), rng.randrange(1, 6)
    shard = tmp_path / "memory.pt.shards" / f"shard-rank{rank:04d}-of0002.pt"
    killed = subprocess.Popen([*torchrun, "--out", str(tmp_path / "memory.pt")], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    while shard_jobs(shard) < after and killed.poll() is None:
        time.sleep(0.01)
    pid = rank_pid(killed.pid, rank)
    assert pid is not None and shard_jobs(shard) == after, "the rank finished before the kill"
    os.kill(pid, signal.SIGKILL)
    assert killed.wait(timeout=120) != 0 and not (tmp_path / "memory.pt").exists()
    rerun = subprocess.run([*torchrun, "--out", str(tmp_path / "memory.pt")], env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"rank {rank}: ran {6 - after} job(s)" in rerun.stdout  # the jobs in its shard were not run again
    g = FrozenGenerator.load(generator)
    reference, resumed = (LatentMemory.load(tmp_path / f, g).latents for f in ("reference.pt", "memory.pt"))
    assert reference.keys() == resumed.keys() == {0, 1, 2, 3}
    assert all(torch.equal(reference[c], resumed[c]) for c in reference)
