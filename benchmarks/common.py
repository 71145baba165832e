"""Helpers shared by the benchmark scripts: MAC counting, peak memory, table + JSON output."""
from __future__ import annotations

import json
import platform
import resource
import subprocess
import time
from pathlib import Path

import torch
from torch import nn

from itgan_replay.gan.pretrain import cpu_has_native_bf16
from itgan_replay.memory.files import atomic_write_bytes


def add_network_options(p, width: int, width_help: str) -> None:
    """``--ch`` (generator width), ``--width`` (a ConvNet's; default ``width``) and ``--image-size``."""
    p.add_argument("--ch", type=int, default=8, help="generator width (8: the cpu pretraining preset; 64: the paper's)")
    p.add_argument("--width", type=int, default=width, help=width_help)
    p.add_argument("--image-size", type=int, default=32,
                   help="side of the images (64: one more generator block, a depth-4 ConvNet)")


def macs_per_image(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass over the batch in ``inputs``, per image (conv + linear)."""
    total = 0

    def hook(module, args, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            total += out.numel() * module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        elif isinstance(module, nn.Linear):
            total += out.numel() * module.in_features

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(*inputs)
    for h in handles:
        h.remove()
    return total // inputs[0].shape[0]


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (Linux: ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), or the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
            "cpu": cpu_model(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "cpu_native_bf16": cpu_has_native_bf16()}


def matmul_gflops(device: str = "cpu", n: int = 1024, seconds: float = 1.0) -> float:
    """fp32 GFLOP/s of square matrix products on ``device`` with the current threads: the practical peak
    that throughput numbers are compared with."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b  # warm-up
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return 2 * n**3 * done / (time.perf_counter() - start) / 1e9


def child_json(cmd: list[str], what: str) -> dict:
    """Run ``cmd`` and parse the last line it prints as JSON; stop with its error output if it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"error: {what} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(rows: list[dict], columns: list[str], path: Path, meta: dict) -> None:
    """Print ``rows`` as a table and write them with ``meta`` (paths become strings) to the JSON file ``path``, atomically."""
    widths = [max(len(c), *(len(fmt(r.get(c))) for r in rows)) for c in columns]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths)))
    for r in rows:
        print("  ".join(fmt(r.get(c)).rjust(w) for c, w in zip(columns, widths)))
    atomic_write_bytes(path, json.dumps({"machine": machine(), **meta, "rows": rows}, indent=1, default=str).encode())
    print(f"wrote {path}")


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)
