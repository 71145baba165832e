"""GAN pretraining speed: today's training step against the step before the generator issue, side by side.

    python benchmarks/pretrain_step.py [--d-chs 8 16] [--ch 8] [--batch-size 64] [--seconds 20] [--out FILE.json]

``before`` is the earlier step, re-stated here as the baseline: NCHW tensors, and D's weight
gradients computed in G's step too. ``current`` is :meth:`GANTrainer.step` (channels-last
tensors, no D weight gradients in G's step). Both train the same networks on random images
with the same settings; each (d_ch, variant) runs in its own process, after 3 warm-up steps.
Reports iterations/s, images/s (batch x iterations/s, as the trainer logs it) and the
speed-up of ``current`` over ``before`` at the same d_ch.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from common import child_json, report
from itgan_replay.augment import diff_augment
from itgan_replay.pretrain import GANTrainer, PretrainConfig

VARIANTS = ("before", "current")


def before_step(t: GANTrainer) -> None:
    """The step before the generator issue (its EMA update included)."""
    cfg = t.config
    t.G.train()
    t.D.train()
    for _ in range(cfg.d_steps):
        x, y = t._real_batch()
        z, y_fake = t._fake_inputs()
        with torch.no_grad():
            fake = t.G(z, y_fake)
        loss_d = F.relu(1 - t.D(diff_augment(x.contiguous(), t.rng), y)).mean() + \
            F.relu(1 + t.D(diff_augment(fake.contiguous(), t.rng), y_fake)).mean()
        t.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        t.opt_d.step()
    z, y_fake = t._fake_inputs()
    loss_g = -t.D(diff_augment(t.G(z, y_fake).contiguous(), t.rng), y_fake).mean()
    t.opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    t.opt_g.step()
    t.iteration += 1
    t._update_ema()


def measure(d_ch: int, variant: str, ch: int, batch_size: int, seconds: float) -> dict:
    config = PretrainConfig(ch=ch, d_ch=d_ch, batch_size=batch_size, d_steps=2, iterations=10**9)
    g = torch.Generator().manual_seed(0)
    images, labels = torch.randint(0, 256, (5000, 3, 32, 32), dtype=torch.uint8, generator=g), torch.arange(5000) % 10
    t = GANTrainer(images, labels, [str(i) for i in range(10)], (0.5,) * 3, (0.5,) * 3, config, "unused")
    if variant == "before":
        for net in (t.G, t.D, t.G_ema):
            net.to(memory_format=torch.contiguous_format)
        step = lambda: before_step(t)  # noqa: E731
    else:
        step = t.step
    for _ in range(3):
        step()
    done, start = 0, time.perf_counter()
    while done == 0 or time.perf_counter() - start < seconds:
        step()
        done += 1
    elapsed = time.perf_counter() - start
    return {"d_ch": d_ch, "variant": variant, "iterations_per_s": done / elapsed,
            "images_per_s": done * batch_size / elapsed, "iterations_timed": done,
            "d_params": sum(p.numel() for p in t.D.parameters()), "g_params": sum(p.numel() for p in t.G.parameters())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--d-chs", type=int, nargs="+", default=[8, 16], help="discriminator widths (d_ch) to time")
    p.add_argument("--ch", type=int, default=8, help="generator width (the cpu preset's: 8)")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (the cpu preset's: 64)")
    p.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per measurement")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/pretrain_step.json"), help="JSON output")
    p.add_argument("--one", nargs=2, metavar=("D_CH", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), args.one[1], args.ch, args.batch_size, args.seconds)))
        return
    rows = []
    for d_ch in args.d_chs:
        for variant in VARIANTS:
            cmd = [sys.executable, __file__, "--one", str(d_ch), variant, "--ch", str(args.ch),
                   "--batch-size", str(args.batch_size), "--seconds", str(args.seconds)]
            rows.append(child_json(cmd, f"the measurement of d_ch {d_ch} {variant}"))
            print(f"  d_ch {d_ch} {variant}: {rows[-1]['images_per_s']:.1f} images/s", flush=True)
        rows[-1]["speedup_vs_before"] = rows[-1]["images_per_s"] / rows[-2]["images_per_s"]
    report(rows, ["d_ch", "variant", "d_params", "g_params", "iterations_per_s", "images_per_s", "speedup_vs_before"],
           args.out, {"ch": args.ch, "batch_size": args.batch_size, "d_steps": 2, "seconds": args.seconds})


if __name__ == "__main__":
    main()
