"""GAN pretraining speed: today's training step against the step before the generator issue, side by side.

    python benchmarks/pretrain_step.py [--d-chs 8 16] [--ch 8] [--batch-size 64] [--seconds 20] [--out FILE.json]
    python benchmarks/pretrain_step.py --image-sizes 32 64 --d-chs 16 --variants current current-amp \
        --out benchmarks/results/pretrain_step_64.json                 # the cpu64 preset against cpu
    python benchmarks/pretrain_step.py --device cuda --ch 64 --d-chs 64 --batch-size 50 --d-steps 4 \
        --variants current current-amp --min-iterations 300 --seconds 0     # the paper preset on a GPU

``before`` is the earlier step, re-stated here as the baseline: NCHW tensors, and D's weight
gradients computed in G's step too. ``current`` is :meth:`GANTrainer.step` (channels-last
tensors, no D weight gradients in G's step); ``current-amp`` is that step with bfloat16 autocast
(``PretrainConfig.amp``, mixed precision); ``current-amp-compiled-g`` is ``current-amp`` with G under
``torch.compile`` (D is left eager: its compiled backward fails on spectral norm's in-place update of ``u``,
torch 2.14.1). All train the same networks on random images
with the same settings; each (image size, d_ch, variant) runs in its own process, after 3 warm-up steps.
Reports iterations/s, images/s (batch x iterations/s, as the trainer logs it) and the
speed-up of each variant over ``before`` (or else over ``current``) at the same image size and d_ch.
On a CPU without native bfloat16 the ``current-amp`` variants are not run (pretraining refuses ``--amp 1`` there);
their rows say so in ``skipped``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks.common import child_json, report
from itgan_replay.condensation.augment import diff_augment
from itgan_replay.gan.pretrain import GANTrainer, PretrainConfig, emulates_bf16

VARIANTS = ("before", "current", "current-amp", "current-amp-compiled-g")


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


def refused(variant: str, device: str) -> str | None:
    """Why ``variant`` cannot run on ``device`` (the trainer refuses bf16 autocast on a CPU without native bf16),
    or ``None``."""
    if variant.startswith("current-amp") and emulates_bf16(device):
        return "not run: this CPU has no native bf16, and pretraining refuses --amp 1 on it"
    return None


def measure(image_size: int, d_ch: int, variant: str, ch: int, batch_size: int, d_steps: int, seconds: float,
            min_iterations: int, device: str) -> dict:
    config = PretrainConfig(ch=ch, d_ch=d_ch, batch_size=batch_size, d_steps=d_steps, iterations=10**9,
                            amp=variant.startswith("current-amp"))
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (5000, 3, image_size, image_size), dtype=torch.uint8, generator=g)
    labels = torch.arange(5000) % 10
    t = GANTrainer(images, labels, [str(i) for i in range(10)], (0.5,) * 3, (0.5,) * 3, config, "unused", device=device)
    if variant == "before":
        for net in (t.G, t.D, t.G_ema):
            net.to(memory_format=torch.contiguous_format)
        step = lambda: before_step(t)  # noqa: E731
    else:
        step = t.step
    if variant == "current-amp-compiled-g":
        t.G.compile()  # compiled during the warm-up steps
    for _ in range(3):
        step()
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    done, start = 0, time.perf_counter()
    while done < max(1, min_iterations) or time.perf_counter() - start < seconds:
        step()
        done += 1
    sync()
    elapsed = time.perf_counter() - start
    return {"image_size": image_size, "d_ch": d_ch, "variant": variant, "iterations_per_s": done / elapsed,
            "images_per_s": done * batch_size / elapsed, "iterations_timed": done,
            "d_params": sum(p.numel() for p in t.D.parameters()), "g_params": sum(p.numel() for p in t.G.parameters())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--image-sizes", type=int, nargs="+", default=[32], help="sides of the (random) training images to time")
    p.add_argument("--d-chs", type=int, nargs="+", default=[8, 16], help="discriminator widths (d_ch) to time")
    p.add_argument("--ch", type=int, default=8, help="generator width (the cpu preset's: 8)")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch (the cpu preset's: 64)")
    p.add_argument("--d-steps", type=int, default=2, help="discriminator steps per iteration (cpu preset: 2, paper: 4)")
    p.add_argument("--variants", nargs="+", default=["before", "current"], choices=VARIANTS, help="steps to time")
    p.add_argument("--seconds", type=float, default=20.0, help="minimum timed seconds per measurement")
    p.add_argument("--min-iterations", type=int, default=1, help="minimum timed iterations per measurement")
    p.add_argument("--device", default="cpu", help="where to train (cuda on a GPU)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/pretrain_step.json"), help="JSON output")
    p.add_argument("--one", nargs=3, metavar=("SIZE", "D_CH", "VARIANT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(int(args.one[0]), int(args.one[1]), args.one[2], args.ch, args.batch_size, args.d_steps, args.seconds,
                                 args.min_iterations, args.device)))
        return
    rows = []
    for size in args.image_sizes:
        for d_ch in args.d_chs:
            mine = []
            for variant in args.variants:
                if why := refused(variant, args.device):
                    mine.append({"image_size": size, "d_ch": d_ch, "variant": variant, "skipped": why})
                    print(f"  {size} px, d_ch {d_ch}, {variant}: {why}", flush=True)
                    continue
                cmd = [sys.executable, __file__, "--one", str(size), str(d_ch), variant, "--ch", str(args.ch), "--batch-size",
                       str(args.batch_size), "--d-steps", str(args.d_steps), "--seconds", str(args.seconds),
                       "--min-iterations", str(args.min_iterations), "--device", args.device]
                mine.append(child_json(cmd, f"the measurement of {size} px, d_ch {d_ch}, {variant}"))
                print(f"  {size} px, d_ch {d_ch}, {variant}: {mine[-1]['images_per_s']:.1f} images/s", flush=True)
            base = next((r for v in ("before", "current") for r in mine if r["variant"] == v), None)
            for row in mine:
                measured = base and "images_per_s" in row
                row["speedup"] = row["images_per_s"] / base["images_per_s"] if measured else None
                row["speedup_over"] = base["variant"] if measured else None
            rows += mine
    report(rows, ["image_size", "d_ch", "variant", "d_params", "g_params", "iterations_per_s", "images_per_s", "speedup",
                  "speedup_over", "skipped"],
           args.out, {"ch": args.ch, "batch_size": args.batch_size, "d_steps": args.d_steps, "seconds": args.seconds,
                      "min_iterations": args.min_iterations, "device": args.device})


if __name__ == "__main__":
    main()
