"""Make (or check) the BigGAN-CIFAR import fixture by running the IT-GAN authors' own generator code.

    python tests/data/biggan/make_fixture.py AUTHORS_DIR --ch 4 --classes 10 --out tests/data/biggan/g4-c10.pt
    python tests/data/biggan/make_fixture.py AUTHORS_DIR --ch 64 --classes 100      # compare only, write nothing

AUTHORS_DIR holds their ``BigGAN.py`` and ``layers.py`` (VICO-UoE/IT-GAN, or DiffAugment-biggan-cifar/ of
mit-han-lab/data-efficient-gans); nothing of it is copied here. The script builds their generator with the
settings of their ITGAN_Evaluate.py, moves its weights off their init (nonzero class embeddings and output-norm
parameters, then train-mode passes that update the spectral-norm vectors and batch-norm statistics), and records
``z``, ``y`` and their eval-mode images ``(G(z, y) + 1) / 2``. It prints, as JSON, how far this project's import
(:func:`itgan_replay.gan.biggan.generator_from_biggan`) is from those images. Not part of the test suite.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torch import nn

from itgan_replay.gan.biggan import CIFAR10_CLASSES, CIFAR100_CLASSES, generator_from_biggan
from itgan_replay.memory.files import atomic_write_bytes


def authors_generator(authors_dir: Path, ch: int, n_classes: int, seed: int) -> nn.Module:
    sys.path.insert(0, str(authors_dir))
    import BigGAN  # noqa: E402  (their module, from the path given)

    torch.manual_seed(seed)
    G = BigGAN.Generator(G_ch=ch, dim_z=128, bottom_width=4, resolution=32, G_kernel_size=3, G_attn="0", n_classes=n_classes,
                         num_G_SVs=1, num_G_SV_itrs=1, G_shared=False, shared_dim=0, hier=False, cross_replica=False, mybn=False,
                         G_activation=nn.ReLU(inplace=False), BN_eps=1e-5, SN_eps=1e-08, G_init="N02", skip_init=False,
                         no_optim=True, G_param="SN", norm_style="bn")
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith(("gain.weight", "bias.weight")):  # class embeddings: N(0, 0.02) at init, far from trained
                p.normal_(0, 0.3)
            elif name.startswith("output_layer.0."):
                p.add_(torch.randn_like(p) * 0.3)
        G.train()
        for _ in range(4):  # power iterations and running statistics move
            G(torch.randn(64, 128), torch.randint(n_classes, (64,)))
    return G.eval()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("authors_dir", type=Path, help="folder with the authors' BigGAN.py and layers.py")
    p.add_argument("--ch", type=int, default=4, help="G_ch (64: their released generators)")
    p.add_argument("--classes", type=int, default=10, choices=(10, 100), help="10 (CIFAR-10 names) or 100 (CIFAR-100 names)")
    p.add_argument("--images", type=int, default=16, help="images compared (and stored)")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights, z and y")
    p.add_argument("--out", type=Path, help="write the fixture here (state dict, z, y, images); without it, compare only")
    args = p.parse_args()
    G = authors_generator(args.authors_dir, args.ch, args.classes, args.seed)
    z, y = torch.randn(args.images, 128), torch.arange(args.images) % args.classes
    with torch.no_grad():
        images = (G(z, y) + 1) / 2
    state = {k: v.clone() for k, v in G.state_dict().items()}
    names = CIFAR10_CLASSES if args.classes == 10 else CIFAR100_CLASSES
    ours = generator_from_biggan(state, names, (0.5,) * 3, (0.5,) * 3)
    diff = (ours.denormalize(ours.generate(z, y)) - images).abs().max().item()
    print(json.dumps({"ch": args.ch, "classes": args.classes, "tensors": len(state),
                      "params": sum(v.numel() for k, v in state.items() if not k.endswith(("u0", "sv0", "stored_mean", "stored_var"))),
                      "images": args.images, "max_abs_difference": diff}))
    if args.out:
        import io
        buf = io.BytesIO()
        torch.save({"state_dict": state, "z": z, "y": y, "images": images}, buf)
        atomic_write_bytes(args.out, buf.getvalue())


if __name__ == "__main__":
    main()
