r"""How much of its source photos each replay memory gives back.

    python experiments/privacy_report.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --feature-dataset imagefolder:../shared/data/cifar10-jpeg-more --generator generators/demo-cifar10-cpu.pt

Builds the memories of the main job's ``--preset`` (budget, latent storage, condensation) for every
class of the stream, one experience of classes at a time as the main job does: ``inversion``
latents (Eq. 1 only) and ``itgan`` latents (inverted, then condensed). Latent ``i`` of a class starts
as the inversion of one training photo, its source. For every stored latent, the image the memory
gives back is compared with its source photo and with the nearest *other* training photo of its
class, by PSNR (pixels) and by the distance between the embeddings of a ConvNet trained on
``--feature-dataset`` (photos the stream does not contain). The same source photos stored as
``jpeg`` exemplars (``--jpeg-quality``) and as ``exemplar`` (raw pixels) are scored alike. A sample
*identifies* its source when the source is nearer to it than every other photo of the class
(chance: one in the class's photos).

Writes ``<out>/privacy.json`` (per memory: means, medians, identification rates, per class) and
``<out>/privacy.png`` (source photos beside what each memory gives back).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import torch

from experiments.cli import HelpFormatter, add_dataset_options, code_version, load_dataset_from_args, require_at_least, save_figure
from experiments.split_cifar100 import PRESETS, plugin_config
from itgan_replay.condensation.nets import build_net, train_classifier
from itgan_replay.condensation.recipe import build_latents
from itgan_replay.data import DatasetError, ImageTensors
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import StoredFileError, atomic_write_bytes
from itgan_replay.memory.jpeg import JPEGCodec
from itgan_replay.memory.latent import LatentMemory
from itgan_replay.memory.privacy import feature_distances, pairwise_psnr, reidentification
from strategies.itgan_plugin import experience_seed
from strategies.methods import latent_config
from strategies.scenario import seeded_class_order

LATENT_MEMORIES = ("inversion", "itgan")
MEMORIES = (*LATENT_MEMORIES, "jpeg", "exemplar")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--feature-dataset", required=True,
                   help="photos the feature net trains on (not the stream's; e.g. the -more folder), same spec as --dataset")
    p.add_argument("--generator", type=Path, required=True, help="generator file")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="main-job preset whose memories are built")
    p.add_argument("--experiences", type=int, default=5, help="experiences the classes come in (condensed one at a time)")
    p.add_argument("--jpeg-quality", type=int, default=50, help="quality of the jpeg exemplars scored")
    p.add_argument("--feature-epochs", type=int, default=10, help="training epochs of the feature net")
    p.add_argument("--seed", type=int, default=0, help="seed of the class order, condensation and the feature net")
    p.add_argument("--out", type=Path, default=Path("runs/privacy"), help="folder of privacy.json and privacy.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def build_latent_memories(train: ImageTensors, generator: FrozenGenerator, args: argparse.Namespace) -> dict[str, dict]:
    """For each latent memory and class: the images the memory gives back ([0, 1]) and their sources'
    indices among the class's training photos (in ``train`` order). Built as the main job's plugin
    builds them: one experience of classes at a time, each class's equal share of the budget."""
    preset = PRESETS[args.preset]
    n_classes = len(train.class_names)
    order = seeded_class_order(n_classes, args.seed)
    size = n_classes // args.experiences
    images = train.normalize(train.images)
    out = {}
    for name in LATENT_MEMORIES:
        config = latent_config(name, plugin_config(preset, args.seed, not args.no_progress))
        memory = LatentMemory(generator, config.storage_dtype, GENERATOR_STORAGE_DTYPES[config.generator_dtype])
        per_class = memory.capacity(preset.budget_bytes) // n_classes
        out[name] = {}
        for experience in range(args.experiences):
            classes = order[experience * size:(experience + 1) * size]
            mask = torch.isin(train.labels, torch.tensor(classes))
            built = build_latents(memory.generator, images[mask], train.labels[mask], classes, per_class, config.recipe,
                                  experience_seed(args.seed, experience), memory.condense_codec)
            for c in classes:
                memory.add(c, built.latents[c])
                z, y = memory.all([c])
                returned = generator.denormalize(memory.generate(z, y, "cpu")[0])
                out[name][c] = {"returned": returned,
                                "sources": source_indices(built.sources[c][: len(z)], images[train.labels == c])}
    return out


def source_indices(sources: torch.Tensor, class_photos: torch.Tensor) -> torch.Tensor:
    """Where each source photo is among ``class_photos`` (exact match of its pixels)."""
    flat = class_photos.flatten(1)
    return torch.stack([torch.nonzero((flat == s.flatten()).all(1))[0, 0] for s in sources])


def feature_net(data: ImageTensors, args: argparse.Namespace) -> torch.nn.Module:
    torch.manual_seed(args.seed)
    net = build_net("convnet", len(data.class_names), 64, data.image_size)
    train_classifier(net, data.normalize(data.images), data.labels, args.feature_epochs,
                     rng=torch.Generator().manual_seed(args.seed))
    return net.eval()


def summarise(rows: list[dict[str, torch.Tensor]], photos_per_class: list[int]) -> dict:
    def stat(key: str) -> dict:
        values = torch.cat([r[key].float() for r in rows])
        finite = values[torch.isfinite(values)]
        return {"mean": float(finite.mean()) if len(finite) else None, "median": float(values.median()),
                "infinite": int((~torch.isfinite(values)).sum())}
    return {"samples": sum(len(r["identified"]) for r in rows), "to_source": stat("to_source"),
            "to_nearest_other": stat("to_nearest_other"),
            "identified_rate": float(torch.cat([r["identified"] for r in rows]).float().mean()),
            "chance_rate": statistics.mean(1 / n for n in photos_per_class),
            "identified_rate_per_class": [float(r["identified"].float().mean()) for r in rows]}


def plot(examples: dict[str, torch.Tensor], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(examples)
    n = len(examples[names[0]])
    fig, axes = plt.subplots(len(names), n, figsize=(1.1 * n, 1.2 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for col in range(n):
            ax = axes[row][col]
            ax.imshow(examples[name][col].permute(1, 2, 0).numpy())
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row][0].set_ylabel(name, fontsize=8)
    fig.suptitle("source photos and what each memory gives back (one stored sample per class)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_at_least(args, {"experiences": 1, "feature_epochs": 1})
        JPEGCodec(args.jpeg_quality)  # checks the quality
        generator = FrozenGenerator.load(args.generator)
        train = load_dataset_from_args(args)[0].with_stats(generator.mean_values, generator.std_values)
        other = load_dataset_from_args(args, args.feature_dataset)[0].with_stats(generator.mean_values, generator.std_values)
        if len(train.class_names) % args.experiences:
            raise ValueError(f"{args.experiences} experiences cannot split {len(train.class_names)} classes evenly")
    except (ValueError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    latent = build_latent_memories(train, generator, args)
    net = feature_net(other, args)
    features = feature_distances(lambda x: net.embed(train.normalize((x * 255).round().to(torch.uint8))))
    codec = JPEGCodec(args.jpeg_quality, train.image_size)
    scores = {name: {"psnr": [], "feature": []} for name in MEMORIES}
    examples = {"source": []} | {name: [] for name in MEMORIES}
    photos_per_class = []
    for c in sorted(latent["itgan"]):
        class_uint8 = train.images[train.labels == c]
        class_photos = class_uint8.float() / 255
        photos_per_class.append(len(class_photos))
        sources = latent["itgan"][c]["sources"]
        jpeg = torch.stack([codec.decode(s) for s in codec.encode(class_uint8[sources])]).float() / 255
        returned = {name: (latent[name][c]["returned"], latent[name][c]["sources"]) for name in LATENT_MEMORIES}
        returned |= {"jpeg": (jpeg, sources), "exemplar": (class_photos[sources], sources)}
        for name, (images, idx) in returned.items():
            scores[name]["psnr"].append(reidentification(images, class_photos, idx, pairwise_psnr, higher_is_closer=True))
            scores[name]["feature"].append(reidentification(images, class_photos, idx, features, higher_is_closer=False))
            examples[name].append(images[0])
        examples["source"].append(class_photos[sources[0]])
    itgan = PRESETS[args.preset].itgan  # how the memories stored the generator and the latents
    report = {
        "settings": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "generator"},
                     "generator_file": str(args.generator), "code": code_version(),
                     **generator.stored_as(GENERATOR_STORAGE_DTYPES[itgan.generator_dtype]).provenance,
                     "latent_storage_dtype": itgan.storage_dtype},
        "memories": {name: {measure: summarise(rows, photos_per_class) for measure, rows in s.items()}
                     for name, s in scores.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / "privacy.json", json.dumps(report, indent=1).encode())
    plot({k: torch.stack(v) for k, v in examples.items()}, args.out / "privacy.png")
    print(f"{'memory':10} {'PSNR to source':>15} {'to nearest other':>17} {'identified (pixels)':>20} "
          f"{'identified (features)':>22}")
    for name, m in report["memories"].items():
        psnr = m["psnr"]
        print(f"{name:10} {psnr['to_source']['median']:>15.2f} {psnr['to_nearest_other']['median']:>17.2f} "
              f"{psnr['identified_rate']:>20.3f} {m['feature']['identified_rate']:>22.3f}")
    print(f"chance of identifying a source: {report['memories']['itgan']['psnr']['chance_rate']:.4f}; "
          f"wrote {args.out / 'privacy.json'} and {args.out / 'privacy.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
