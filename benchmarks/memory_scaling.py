"""Bytes per stored sample and regeneration as the number of classes grows (generated latents).

    python benchmarks/memory_scaling.py [--classes 10 20 50 100] [--per-class 100] [--ch 8] [--chunk 500]

For each class count a :class:`LatentMemory` of ``--per-class`` N(0, I) latents per class is
built beside a generator of 100 classes, and all of its latents are regenerated: the first pass for memory, ``--repeats`` more for time (the fastest counts). Each row
runs in its own process, so its peak memory is its own. Columns: stored bytes (latents, and
with the generator), bytes per stored sample, regeneration seconds and images/s, and the
peak resident memory the regeneration added beyond its output tensor (``working_mib``): with
chunked generation it is bounded by the chunk, whatever the number of images. The last rows
repeat the largest count with one chunk holding every image, for contrast.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import child_json, peak_rss_mib, report
from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig
from itgan_replay.memory.latent import LatentMemory

GENERATOR_CLASSES = 100


def measure(classes: int, per_class: int, ch: int, chunk: int, repeats: int) -> dict:
    torch.manual_seed(0)
    generator = FrozenGenerator(Generator(GeneratorConfig(n_classes=GENERATOR_CLASSES, ch=ch)), (0.5,) * 3, (0.5,) * 3,
                                chunk_size=chunk)
    memory = LatentMemory(generator)
    for c in range(classes):
        memory.add(c, torch.randn(per_class, generator.config.z_dim))
    z, y = memory.all()
    memory.generate(z[:2], y[:2])  # library start-up costs, at a negligible batch
    before = peak_rss_mib()
    images, _ = memory.generate(z, y)  # first full pass: its peak memory
    output_mib = images.numel() * images.element_size() / 2**20
    working_mib = max(0.0, peak_rss_mib() - before - output_mib)
    del images
    times = []
    for _ in range(repeats):  # later passes: their time (the fastest, against noise from other processes)
        start = time.perf_counter()
        memory.generate(z, y)
        times.append(time.perf_counter() - start)
    seconds = min(times)
    return {"classes": classes, "chunk": chunk, "samples": len(memory), "latent_bytes": memory.latent_bytes,
            "total_bytes": memory.total_bytes, "bytes_per_sample": memory.latent_bytes / len(memory),
            "regen_s": seconds, "images_per_s": len(memory) / seconds, "output_mib": output_mib,
            "working_mib": working_mib}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--classes", type=int, nargs="+", default=[10, 20, 50, 100], help=f"class counts (at most {GENERATOR_CLASSES})")
    p.add_argument("--per-class", type=int, default=100, help="latents per class")
    p.add_argument("--ch", type=int, default=8, help="generator width (8: the cpu pretraining preset)")
    p.add_argument("--chunk", type=int, default=500, help="generator chunk size (images per forward pass)")
    p.add_argument("--repeats", type=int, default=2, help="timed regenerations per row (the fastest is reported)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/memory_scaling.json"), help="JSON output")
    p.add_argument("--one", type=int, nargs=2, metavar=("CLASSES", "CHUNK"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.per_class, args.ch, args.one[1], args.repeats)))
        return
    if max(args.classes) > GENERATOR_CLASSES:
        raise SystemExit(f"error: at most {GENERATOR_CLASSES} classes (the benchmark generator's)")
    cases = [(c, args.chunk) for c in args.classes] + [(max(args.classes), max(args.classes) * args.per_class)]
    rows = []
    for classes, chunk in cases:
        cmd = [sys.executable, __file__, "--one", str(classes), str(chunk), "--per-class", str(args.per_class),
               "--ch", str(args.ch), "--repeats", str(args.repeats)]
        rows.append(child_json(cmd, f"the measurement of {classes} classes, chunk {chunk}"))
        print(f"  {classes} classes, chunk {chunk}: {rows[-1]['regen_s']:.2f} s", flush=True)
    first = rows[0]
    for r in rows:
        r["bytes_vs_first"] = r["latent_bytes"] / first["latent_bytes"]
        r["regen_s_vs_first"] = r["regen_s"] / first["regen_s"]
    report(rows, ["classes", "chunk", "samples", "latent_bytes", "total_bytes", "bytes_per_sample", "bytes_vs_first",
                  "regen_s", "regen_s_vs_first", "images_per_s", "output_mib", "working_mib"], args.out,
           {k: v for k, v in vars(args).items() if k != "one"})


if __name__ == "__main__":
    main()
