"""The benchmark scripts run end to end on tiny settings and write their JSON (no timings are checked)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


# regenerate.py, condense_vs_dm.py, replay_overhead.py and pretrain_step.py's current step also run in gpu_check.sh's
# CPU dry run (test_gpu_check_script_runs_every_step_in_its_cpu_dry_run); here, the scripts and variants it lacks.
@pytest.mark.parametrize("script, args", [
    ("pretrain_step.py", ["--d-chs", "2", "--ch", "2", "--batch-size", "4", "--seconds", "0.05", "--variants", "before"]),
    ("condense_step.py", ["--classes", "2", "--latents", "4", "--real", "8", "--width", "8", "--steps", "1", "--subset-sizes", "2", "4"]),
    ("memory_scaling.py", ["--classes", "2", "4", "--per-class", "5", "--ch", "2", "--chunk", "4"]),
    ("condense_scaling.py", ["--classes", "2", "--latents", "4", "--subset", "2", "--iterations", "1", "--inversion-steps", "1",
                             "--real", "8", "--width", "8"]),
])
def test_benchmark_runs_and_writes_json(tmp_path, script, args):
    out = tmp_path / "result.json"
    subprocess.run([sys.executable, str(BENCH / script), *args, "--out", str(out)], check=True, capture_output=True)
    rows = json.loads(out.read_text())["rows"]
    assert rows and all(isinstance(r, dict) for r in rows)


def test_condense_vs_dm_says_the_reference_was_skipped_or_missing(tmp_path):
    out = tmp_path / "r.json"
    cmd = [sys.executable, str(BENCH / "condense_vs_dm.py"), "--classes", "2", "--ipc", "1", "--real", "4", "--steps", "1",
           "--ch", "2", "--variants", "eager", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    rows = json.loads(out.read_text())["rows"]
    assert rows[1]["s_per_step"] is None and "skipped" in rows[1]["note"] and rows[0]["ratio_to_reference"] is None
    missing = subprocess.run(cmd + ["--reference", str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode != 0 and "no main_DM.py" in missing.stderr


def test_condense_vs_dm_times_the_reference_steps_between_network_draws(tmp_path):
    """A stand-in reference with main_DM.py's shape: load data, draw one evaluation net, then one net per step."""
    ref = tmp_path / "reference"
    ref.mkdir()
    (ref / "utils.py").write_text(
        "import torch\n"
        "TensorDataset = torch.utils.data.TensorDataset\n"
        "def get_dataset(dataset, data_path):\n    raise RuntimeError('would download')\n"
        "def get_network(model, channel, num_classes, im_size=(32, 32)):\n    return torch.nn.Linear(1, 1)\n")
    (ref / "main_DM.py").write_text(
        "import argparse\nfrom utils import get_dataset, get_network\n"
        "def main():\n"
        "    p = argparse.ArgumentParser()\n"
        "    for a in ('--dataset', '--model', '--ipc', '--batch_real', '--Iteration', '--num_exp', '--num_eval',\n"
        "              '--epoch_eval_train', '--eval_mode', '--data_path', '--save_path'):\n"
        "        p.add_argument(a)\n"
        "    args = p.parse_args()\n"
        "    train = get_dataset(args.dataset, args.data_path)[6]\n"
        "    assert len(train) == 2 * 4\n"
        "    get_network('ConvNet', 3, 2)\n"
        "    for it in range(int(args.Iteration) + 1):\n"
        "        get_network('ConvNet', 3, 2)\n")
    out = tmp_path / "r.json"
    subprocess.run([sys.executable, str(BENCH / "condense_vs_dm.py"), "--reference", str(ref), "--classes", "2", "--ipc", "1",
                    "--real", "4", "--steps", "4", "--ch", "2", "--variants", "eager", "--out", str(out)],
                   check=True, capture_output=True)
    result = json.loads(out.read_text())
    assert result["reference_timed_steps"] == 3  # steps 1..3: step 0 warms up, the last step has no following draw
    assert result["rows"][1]["s_per_step"] >= 0 and result["rows"][0]["ratio_to_reference"] is not None


def test_gpu_check_script_runs_every_step_in_its_cpu_dry_run(tmp_path):
    env = {**os.environ, "CHECK_DEVICE": "cpu", "QUICK": "1", "OUT_DIR": str(tmp_path), "PYTHON": sys.executable}
    subprocess.run(["bash", str(BENCH / "gpu_check.sh")], check=True, capture_output=True, env=env)
    written = {p.name: json.loads(p.read_text()) for p in tmp_path.glob("*.json")}
    assert set(written) == {"device.json", "regenerate.json", "regenerate_imported.json", "condense_vs_dm.json",
                            "replay_overhead.json", "pretrain_step.json"}
    assert all(written[name]["rows"] and all(isinstance(r, dict) for r in written[name]["rows"])
               for name in written if name != "device.json")
    for name, conditioning in (("regenerate.json", "shared"), ("regenerate_imported.json", "class")):
        rows = written[name]["rows"]
        assert {r["variant"] for r in rows} == {"plain-fp32", "frozen-fp32", "frozen-bf16"}
        assert {r["conditioning"] for r in rows} == {conditioning}
    assert {r["variant"] for r in written["pretrain_step.json"]["rows"]} == {"current", "current-amp"}


def test_pretrain_step_says_bf16_autocast_was_not_run_on_a_cpu_without_native_bf16(tmp_path, monkeypatch, capsys):
    import benchmarks.pretrain_step as bench
    from itgan_replay.gan import pretrain

    monkeypatch.setattr(pretrain, "cpu_has_native_bf16", lambda: False)
    out = tmp_path / "r.json"
    monkeypatch.setattr(sys, "argv", ["pretrain_step.py", "--variants", "current-amp", "current-amp-compiled-g",
                                      "--d-chs", "2", "--out", str(out)])
    bench.main()  # no measurement starts: each row says why
    rows = json.loads(out.read_text())["rows"]
    assert [(r["variant"], r["skipped"], r["speedup"]) for r in rows] == [
        (v, "not run: this CPU has no native bf16, and pretraining refuses --amp 1 on it", None)
        for v in ("current-amp", "current-amp-compiled-g")]
    assert bench.refused("current-amp", "cuda") is None and bench.refused("current", "cpu") is None


def test_gpu_check_refuses_to_run_without_a_gpu(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    env = {**os.environ, "OUT_DIR": str(tmp_path), "PYTHON": sys.executable}
    done = subprocess.run(["bash", str(BENCH / "gpu_check.sh")], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "no CUDA GPU" in done.stderr
