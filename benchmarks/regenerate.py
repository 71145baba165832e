"""Regeneration speed: FrozenGenerator (its folded network; fp32, bf16) against a plain eager fp32
forward of the same weights.

    python benchmarks/regenerate.py [--widths 8 64] [--variants ...] [--chunk 200] [--seconds 5] [--repeats 3]
                                    [--conditioning shared|class]

``--conditioning class`` times the architecture of the IT-GAN authors' generators (per-norm class embeddings,
spectral norm from a stored vector; ``experiments/import_generator.py``) instead of this project's own.

Every (width, variant) measurement runs in its own process, so that its peak memory is its own;
the variants of a width alternate ``--repeats`` times and the table gives the median, so a load
change on a shared machine hits all of them alike. Reports images/s, the speed ratio to the plain
forward, the peak resident memory, MACs per image of the plain network, and the share of this
device's fp32 peak that it reaches (effective GFLOP/s = 2 x plain MACs x images/s, against the
GFLOP/s of a 1024x1024 fp32 matrix product measured in the same process with the same threads).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import child_json, macs_per_image, matmul_gflops, peak_rss_mib, report
from itgan_replay.gan.generator import CONDITIONINGS, FrozenGenerator, Generator, GeneratorConfig

VARIANTS = ("plain-fp32", "frozen-fp32", "frozen-bf16")


def measure(width: int, variant: str, chunk: int, seconds: float, device: str, conditioning: str) -> dict:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(n_classes=10, ch=width, conditioning=conditioning))
    if variant == "plain-fp32":
        net = g.eval().to(device)
        run = lambda z, y: net(z.to(device), y.to(device))  # noqa: E731
    else:
        dtype = torch.bfloat16 if variant.endswith("bf16") else torch.float32
        frozen = FrozenGenerator(g, (0.5,) * 3, (0.5,) * 3, chunk_size=chunk, device=device, dtype=dtype)
        run = frozen.generate
    z, y = torch.randn(chunk, 128), torch.arange(chunk) % 10
    rss_before = peak_rss_mib()
    with torch.no_grad():
        run(z, y)  # warm-up
        done, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            run(z, y)
            done += chunk
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
    macs = macs_per_image(g.eval(), z[:8], y[:8])
    effective, peak = 2 * macs * done / elapsed / 1e9, matmul_gflops(device)
    return {"width": width, "variant": variant, "conditioning": conditioning, "images_per_s": done / elapsed, "peak_rss_mib": peak_rss_mib(),
            "rss_growth_mib": peak_rss_mib() - rss_before, "macs_per_image": macs,
            "effective_gflops": effective, "matmul_gflops": peak, "share_of_peak": effective / peak,
            "params": sum(p.numel() for p in g.parameters()),
            "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[8, 64], help="generator channel widths (ch; 8: the cpu preset)")
    p.add_argument("--variants", nargs="+", default=["plain-fp32", "frozen-fp32"], choices=VARIANTS,
                   help="what to time (bf16 is slow on CPUs without bf16 instructions: time it with a smaller --chunk)")
    p.add_argument("--conditioning", default="shared", choices=CONDITIONINGS,
                   help="the architecture: shared (this project's generators) or class (the IT-GAN authors', imported)")
    p.add_argument("--chunk", type=int, default=200, help="images per forward pass (FrozenGenerator chunk size)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of each measurement (1: steadier on a loaded machine)")
    p.add_argument("--repeats", type=int, default=3, help="alternating measurements of every variant (median reported)")
    p.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds per measurement")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where to generate")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/regenerate.json"), help="JSON output")
    p.add_argument("--one", nargs=2, metavar=("WIDTH", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        torch.set_num_threads(args.threads)
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.chunk, args.seconds, args.device, args.conditioning)))
        return
    rows = []
    for width in args.widths:
        runs = {v: [] for v in args.variants}
        for _ in range(args.repeats):
            for variant in args.variants:
                cmd = [sys.executable, __file__, "--one", str(width), variant, "--chunk", str(args.chunk),
                       "--seconds", str(args.seconds), "--device", args.device, "--threads", str(args.threads),
                       "--conditioning", args.conditioning]
                runs[variant].append(child_json(cmd, f"the measurement of width {width} {variant}"))
                print(f"  width {width} {variant}: {runs[variant][-1]['images_per_s']:.1f} images/s", flush=True)
        for variant, measured in runs.items():
            row = dict(sorted(measured, key=lambda r: r["images_per_s"])[(len(measured) - 1) // 2])  # the median run
            row["runs_images_per_s"] = [r["images_per_s"] for r in measured]
            rows.append(row)
        plain = next((r for r in rows if r["width"] == width and r["variant"] == "plain-fp32"), None)
        for row in rows[-len(runs):]:
            row["speed_vs_plain"] = row["images_per_s"] / plain["images_per_s"] if plain else None
    report(rows, ["width", "conditioning", "variant", "params", "macs_per_image", "images_per_s", "speed_vs_plain", "share_of_peak",
                  "peak_rss_mib"], args.out,
           {"chunk": args.chunk, "device": args.device, "seconds": args.seconds, "repeats": args.repeats,
            "threads": args.threads, "conditioning": args.conditioning})


if __name__ == "__main__":
    main()
