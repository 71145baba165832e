"""Regeneration speed: FrozenGenerator (fp32, bf16) against a plain eager fp32 forward of the same weights.

    python benchmarks/regenerate.py [--widths 16 32 64] [--variants ...] [--chunk 500] [--seconds 3] [--out FILE.json]

Each (width, variant) runs in its own process so that its peak memory is its own. Reports
images/s, the speed ratio to the plain forward measured in the same run, the peak resident
memory of the process, and MACs per image.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from common import child_json, macs_per_image, peak_rss_mib, report
from itgan_replay.generator import FrozenGenerator, Generator, GeneratorConfig

VARIANTS = ("plain-fp32", "frozen-fp32", "frozen-bf16")


def measure(width: int, variant: str, chunk: int, seconds: float, device: str) -> dict:
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(n_classes=10, ch=width))
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
    return {"width": width, "variant": variant, "images_per_s": done / elapsed, "peak_rss_mib": peak_rss_mib(),
            "rss_growth_mib": peak_rss_mib() - rss_before, "macs_per_image": macs_per_image(g.eval(), z[:8], y[:8]),
            "params": sum(p.numel() for p in g.parameters()),
            "cuda_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64], help="generator channel widths (ch)")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS,
                   help="what to time (bf16 is slow on CPUs without bf16 instructions: time it with a smaller --chunk)")
    p.add_argument("--chunk", type=int, default=500, help="images per forward pass (FrozenGenerator chunk size)")
    p.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per measurement")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="where to generate")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/regenerate.json"), help="JSON output")
    p.add_argument("--one", nargs=2, metavar=("WIDTH", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.chunk, args.seconds, args.device)))
        return
    rows = []
    for width in args.widths:
        for variant in args.variants:
            cmd = [sys.executable, __file__, "--one", str(width), variant, "--chunk", str(args.chunk),
                   "--seconds", str(args.seconds), "--device", args.device]
            row = child_json(cmd, f"the measurement of width {width} {variant}")
            plain = row if variant == "plain-fp32" else next(
                (r for r in rows if r["width"] == width and r["variant"] == "plain-fp32"), None)
            row["speed_vs_plain"] = row["images_per_s"] / plain["images_per_s"] if plain else None
            rows.append(row)
            print(f"  width {width} {variant}: {row['images_per_s']:.1f} images/s", flush=True)
    report(rows, ["width", "variant", "params", "macs_per_image", "images_per_s", "speed_vs_plain", "peak_rss_mib"],
           args.out, {"chunk": args.chunk, "device": args.device, "seconds": args.seconds})


if __name__ == "__main__":
    main()
