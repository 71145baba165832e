r"""How much of its source photos each replay memory gives back, against attackers who hold it.

    python experiments/privacy_report.py --dataset imagefolder:../shared/data/cifar10-jpeg \
        --feature-dataset imagefolder:../shared/data/cifar10-jpeg-more --generator generators/demo-cifar10-cpu.pt

Threat model: the attacker holds the generator, the memory (its stored latents, and so the images it gives back)
and every training photo of the stream's classes, and asks (1) identification: which photo did this stored sample
come from? and (2) membership: was this photo used to build the memory? Members are the photos a memory was built
from; non-members are photos of the same classes that were never in the stream (``--feature-dataset``, e.g. the
-more folder). Identification is run once without the run's seeds and once with them: with the seeds (and the
photos), every inversion the memory started from can be recomputed exactly.

Builds the memories of the main job's ``--preset`` (budget, latent storage, condensation) for every class of the
stream, one experience of classes at a time as the main job does: ``inversion`` (Eq. 1 only), ``itgan`` (inverted,
then condensed) and ``itgan-random`` (condensed from random latents: no latent starts from a photo), and the same
source photos as ``jpeg`` exemplars (``--jpeg-quality``) and as ``exemplar`` (raw pixels). The attackers:

- **pixels / features**: a returned image identifies its source when the source is nearer to it than every other
  photo of its class, by PSNR or by the distance between the embeddings of a ConvNet trained on ``--feature-dataset``
  (chance: one in the class's photos);
- **latent**: the attacker inverts every photo with the project's recipe (its inversion settings, a feature net
  trained on the photos) and its own seed, and matches each stored latent to the nearest inversion;
- **latent, with seeds**: the same, with each source's inversion recomputed exactly as the memory's start;
- **membership**: a photo's score is its best match among what the memory holds (PSNR to the nearest returned image;
  the distance from its inversion to the nearest stored latent), reported as the AUC of members against
  non-members and the share of members found at a 1% false-positive rate.

Each attack has a **null**: the same measure with every true source (member) replaced by a non-member photo, so that
its reading when nothing leaks stands beside it. ``itgan-random`` has no source, so only membership applies to it.

Writes ``<out>/privacy.json`` (per memory and attack: rates and their nulls, per class) and ``<out>/privacy.png``
(source photos beside what each memory gives back). Each memory (after every experience) and the attacker's
inversions are kept in ``<out>/parts/``, so a killed report, run again with the same settings, resumes there.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict
import statistics
import sys
from pathlib import Path

import torch

from experiments.cli import (HelpFormatter, add_dataset_options, code_version, load_dataset_from_args,
                             require_at_least, require_generator_of, save_figure)
from experiments.split_cifar100 import PRESETS, plugin_config
from itgan_replay.condensation.inversion import invert
from itgan_replay.condensation.nets import build_net, train_classifier, trained_net
from itgan_replay.condensation.recipe import build_latents
from itgan_replay.data import DatasetError, ImageTensors
from itgan_replay.gan.generator import GENERATOR_STORAGE_DTYPES, FrozenGenerator
from itgan_replay.memory.files import KeyedFile, StoredFileError, atomic_write_bytes
from itgan_replay.memory.jpeg import JPEGCodec
from itgan_replay.memory.latent import LatentMemory
from itgan_replay.memory.privacy import (best_match, feature_distances, membership_auc, pairwise_psnr, reidentification,
                                         tpr_at_fpr)
from strategies.itgan_plugin import experience_seed
from strategies.methods import latent_config
from strategies.scenario import seeded_class_order

LATENT_MEMORIES = ("inversion", "itgan", "itgan-random")
MEMORIES = (*LATENT_MEMORIES, "jpeg", "exemplar")
SOURCED = ("inversion", "itgan", "jpeg", "exemplar")
"""The memories whose stored samples each start from one photo (identification applies to them)."""
FPR = 0.01  # membership: the share of members found where 1% of the non-members are flagged


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    add_dataset_options(p)
    p.add_argument("--feature-dataset", required=True,
                   help="photos of the same classes that the stream never contains (e.g. the -more folder), same spec as "
                        "--dataset: the feature net trains on them, and the non-members are drawn from them")
    p.add_argument("--generator", type=Path, required=True, help="generator file")
    p.add_argument("--preset", default="quick", choices=sorted(PRESETS), help="main-job preset whose memories are built")
    p.add_argument("--experiences", type=int, default=5, help="experiences the classes come in (condensed one at a time)")
    p.add_argument("--jpeg-quality", type=int, default=50, help="quality of the jpeg exemplars scored")
    p.add_argument("--feature-epochs", type=int, default=10, help="training epochs of the feature net")
    p.add_argument("--seed", type=int, default=0, help="seed of the class order, condensation and the feature net")
    p.add_argument("--attacker-seed", type=int, default=1, help="the seed of the attacker who does not know the run's")
    p.add_argument("--out", type=Path, default=Path("runs/privacy"), help="folder of privacy.json and privacy.png")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def build_latent_memories(train: ImageTensors, generator: FrozenGenerator, args: argparse.Namespace) -> dict[str, dict]:
    """For each latent memory and class: its stored latents, the images it gives back ([0, 1]) and the indices of the
    photos they pair with among the class's training photos (in ``train`` order; an inverted latent started from its
    photo). Built as the main job's plugin builds them: one experience of classes at a time, each class's equal share
    of the budget."""
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
        part = part_file(args, name, part_settings(args, generator, config))
        done = part.load()  # the classes an earlier run of the same settings built
        for experience in range(args.experiences):
            classes = order[experience * size:(experience + 1) * size]
            if all(c in done for c in classes):
                continue
            mask = torch.isin(train.labels, torch.tensor(classes))
            built = build_latents(memory.generator, images[mask], train.labels[mask], classes, per_class, config.recipe,
                                  experience_seed(args.seed, experience), memory.condense_codec)
            for c in classes:
                memory.add(c, built.latents[c])
                z, _ = memory.all([c])  # as stored
                done[c] = {"latents": z, "sources": source_indices(built.sources[c][: len(z)], images[train.labels == c])}
            part.save(done, code=code_version())
        out[name] = {}
        for c, kept in sorted(done.items()):
            y = torch.full((len(kept["latents"]),), c)
            out[name][c] = kept | {"returned": generator.denormalize(memory.generate(kept["latents"], y, "cpu")[0])}
    return out


def part_settings(args: argparse.Namespace, generator: FrozenGenerator, config, attacker: bool = False) -> dict:
    """What a saved part depends on: the photos, the generator, the recipe and storage, the seeds (the attacker's
    seed for the attacker's part)."""
    return {"dataset": args.dataset, "feature_dataset": args.feature_dataset, "generator": generator.fingerprint,
            "preset": args.preset, "experiences": args.experiences, "seed": args.seed,
            "config": json.loads(json.dumps(asdict(config), default=str))} | (
                {"attacker_seed": args.attacker_seed} if attacker else {})


def part_file(args: argparse.Namespace, name: str, settings: dict) -> KeyedFile:
    """One part of the report kept on disk (a memory's latents and sources by class, or the attacker's inversions),
    so that a killed report resumes; refused when made at other settings."""
    return KeyedFile(args.out / "parts" / f"{name}.pt", "privacy-part", 2, settings, "pass another --out or remove it")


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


def attacker_inversions(generator: FrozenGenerator, train: ImageTensors, photos: list[tuple[torch.Tensor, torch.Tensor]],
                        args: argparse.Namespace) -> list[torch.Tensor]:
    """Each set of (uint8 photos, labels) inverted as the attacker without the run's seeds does it: the preset's
    inversion settings and one feature net, trained on the stream's photos as the recipe trains one, both from
    ``--attacker-seed`` (one net for members and non-members alike)."""
    recipe = PRESETS[args.preset].itgan.recipe
    net = trained_net(train.normalize(train.images), train.labels, len(train.class_names), recipe.inversion_net_epochs,
                      recipe.embedding_arch, recipe.embedding_width, args.attacker_seed)
    inv = recipe.inversion
    return [invert(generator, train.normalize(images), labels, net, inv.steps, inv.lr, inv.lambda_pixel, inv.batch_size,
                   seed=args.attacker_seed).cpu() for images, labels in photos]


def nonmember_draw(n_photos: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two disjoint seeded draws of ``count`` non-member photos of a class: the non-members scored, and those that
    stand in for the members in the null."""
    order = torch.randperm(n_photos, generator=torch.Generator().manual_seed(seed))
    if n_photos < 2 * count:
        raise ValueError(f"a class has {n_photos} photos in --feature-dataset; the report needs {2 * count} (twice the "
                         "samples a memory stores of a class)")
    return order[:count], order[count:2 * count]


def identification(returned: torch.Tensor, candidates: torch.Tensor, sources: torch.Tensor, stand_ins: torch.Tensor,
                   similarity, higher_is_closer: bool) -> dict[str, torch.Tensor]:
    """:func:`reidentification` of each returned sample among ``candidates``, and its null: the same with each source
    replaced by a stand-in that the memory never saw (so that finding it is chance)."""
    scored = reidentification(returned, candidates, sources, similarity, higher_is_closer)
    nulled = candidates.clone()
    nulled[sources] = stand_ins
    scored["null_identified"] = reidentification(returned, nulled, sources, similarity, higher_is_closer)["identified"]
    return scored


def membership(held: torch.Tensor, members: torch.Tensor, nonmembers: torch.Tensor, stand_ins: torch.Tensor,
               similarity, higher_is_closer: bool) -> dict[str, torch.Tensor]:
    """Each photo's best match among what the memory holds: members, non-members, and the stand-ins (non-members
    in the members' place, the null)."""
    return {name: best_match(photos, held, similarity, higher_is_closer)
            for name, photos in (("members", members), ("nonmembers", nonmembers), ("stand_ins", stand_ins))}


def summarise_identification(rows: list[dict[str, torch.Tensor]], photos_per_class: list[int]) -> dict:
    def stat(key: str) -> dict:
        values = torch.cat([r[key].float() for r in rows])
        finite = values[torch.isfinite(values)]
        return {"mean": float(finite.mean()) if len(finite) else None, "median": float(values.median()),
                "infinite": int((~torch.isfinite(values)).sum())}
    rate = lambda key: float(torch.cat([r[key] for r in rows]).float().mean())  # noqa: E731
    return {"samples": sum(len(r["identified"]) for r in rows), "to_source": stat("to_source"),
            "to_nearest_other": stat("to_nearest_other"), "identified_rate": rate("identified"),
            "null_identified_rate": rate("null_identified"), "chance_rate": statistics.mean(1 / n for n in photos_per_class),
            "identified_rate_per_class": [float(r["identified"].float().mean()) for r in rows]}


def summarise_membership(rows: list[dict[str, torch.Tensor]]) -> dict:
    members, nonmembers, stand_ins = (torch.cat([r[k] for r in rows]) for k in ("members", "nonmembers", "stand_ins"))
    return {"members": len(members), "auc": membership_auc(members, nonmembers),
            "tpr_at_fpr": tpr_at_fpr(members, nonmembers, FPR), "null_auc": membership_auc(stand_ins, nonmembers),
            "null_tpr_at_fpr": tpr_at_fpr(stand_ins, nonmembers, FPR), "fpr": FPR}


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


def report(args: argparse.Namespace, generator: FrozenGenerator, train: ImageTensors, other: ImageTensors) -> dict:
    """Build the memories, run every attack and its null, and return what privacy.json holds."""
    latent = build_latent_memories(train, generator, args)
    net = feature_net(other, args)
    features = feature_distances(lambda x: net.embed(train.normalize((x * 255).round().to(torch.uint8))))
    codec = JPEGCodec(args.jpeg_quality, train.image_size)
    draws = {}  # per class, the rows of `other` scored as non-members and those standing in for the members (null)
    for c, memory in latent["itgan"].items():
        rows = torch.nonzero(other.labels == c).flatten()
        scored_idx, stand_idx = nonmember_draw(len(rows), len(memory["sources"]), args.seed * 100_003 + c)
        draws[c] = rows[scored_idx], rows[stand_idx]
    needed = torch.cat([torch.cat(d) for d in draws.values()])
    part = part_file(args, "attacker", part_settings(args, generator, PRESETS[args.preset].itgan.recipe, attacker=True))
    if not (inverted := part.load()):
        stream_inverted, needed_inverted = attacker_inversions(
            generator, train, [(train.images, train.labels), (other.images[needed], other.labels[needed])], args)
        inverted = {"stream": stream_inverted, "needed": needed_inverted}
        part.save(inverted, code=code_version())
    stream_inverted, needed_inverted = inverted["stream"], inverted["needed"]
    other_inverted = torch.zeros(len(other), generator.config.z_dim)
    other_inverted[needed] = needed_inverted
    kinds = {"psnr": (pairwise_psnr, True), "feature": (features, False), "latent": (torch.cdist, False),
             "latent_with_seeds": (torch.cdist, False)}
    found = {name: {kind: [] for kind in kinds} for name in SOURCED}
    scored = {name: {"pixels": [], "latent": []} for name in MEMORIES}
    examples = {"source": []} | {name: [] for name in MEMORIES}
    photos_per_class = []
    for c in sorted(latent["itgan"]):
        in_class = train.labels == c
        class_uint8 = train.images[in_class]
        class_photos = class_uint8.float() / 255
        photos_per_class.append(len(class_photos))
        sources = latent["itgan"][c]["sources"]
        scored_idx, stand_idx = draws[c]
        nonmembers, stand_ins = (other.images[rows].float() / 255 for rows in draws[c])
        jpeg = torch.stack([codec.decode(s) for s in codec.encode(class_uint8[sources])]).float() / 255
        held = {name: (latent[name][c]["returned"], latent[name][c]["latents"], latent[name][c]["sources"])
                for name in LATENT_MEMORIES} | {"jpeg": (jpeg, None, sources), "exemplar": (class_photos[sources], None, sources)}
        exact = latent["inversion"][c]["latents"]  # with the seeds: the inversions each source's latent started from
        if not torch.equal(latent["inversion"][c]["sources"], sources):
            raise RuntimeError("the inversion and itgan memories paired their latents with different photos")
        for name, (images, z, idx) in held.items():
            members = class_photos[idx]
            scored[name]["pixels"].append(membership(images, members, nonmembers, stand_ins,
                                                     pairwise_psnr, True))
            if z is not None:
                scored[name]["latent"].append(membership(z, stream_inverted[in_class][idx], other_inverted[scored_idx],
                                                         other_inverted[stand_idx], torch.cdist, False))
            examples[name].append(images[0])
            if name not in SOURCED:
                continue
            found[name]["psnr"].append(identification(images, class_photos, idx, stand_ins, *kinds["psnr"]))
            found[name]["feature"].append(identification(images, class_photos, idx, stand_ins, *kinds["feature"]))
            if z is not None:
                without_seeds = stream_inverted[in_class]
                with_seeds = without_seeds.clone()
                with_seeds[idx] = exact
                for kind, candidates in (("latent", without_seeds), ("latent_with_seeds", with_seeds)):
                    found[name][kind].append(identification(z, candidates, idx, other_inverted[stand_idx], *kinds[kind]))
        examples["source"].append(class_photos[sources[0]])
    itgan = PRESETS[args.preset].itgan  # how the memories stored the generator and the latents
    memories = {}
    for name in MEMORIES:
        memories[name] = {"membership": {kind: summarise_membership(rows) for kind, rows in scored[name].items() if rows}}
        if name in SOURCED:
            memories[name]["identification"] = {kind: summarise_identification(rows, photos_per_class)
                                                for kind, rows in found[name].items() if rows}
    plot({k: torch.stack(v) for k, v in examples.items()}, args.out / "privacy.png")
    return {
        "settings": {**{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "generator"},
                     "generator_file": str(args.generator), "code": code_version(),
                     **generator.stored_as(GENERATOR_STORAGE_DTYPES[itgan.generator_dtype]).provenance,
                     "latent_storage_dtype": itgan.storage_dtype},
        "threat_model": "the attacker holds the generator, the memory and every training photo of the stream's classes; "
                        "non-members are photos of the same classes never in the stream; 'with seeds' recomputes each "
                        "source's inversion exactly",
        "memories": memories,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        require_at_least(args, {"experiences": 1, "feature_epochs": 1})
        JPEGCodec(args.jpeg_quality)  # checks the quality
        generator = FrozenGenerator.load(args.generator)
        train = load_dataset_from_args(args)[0].with_stats(generator.mean_values, generator.std_values)
        other = load_dataset_from_args(args, args.feature_dataset)[0].with_stats(generator.mean_values, generator.std_values)
        require_generator_of(generator, train)
        if len(train.class_names) % args.experiences:
            raise ValueError(f"{args.experiences} experiences cannot split {len(train.class_names)} classes evenly")
        if other.class_names != train.class_names:
            raise ValueError("--feature-dataset must have the stream's classes (its non-members are photos of them)")
        args.out.mkdir(parents=True, exist_ok=True)
        saved = report(args, generator, train, other)
    except (ValueError, DatasetError, StoredFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    atomic_write_bytes(args.out / "privacy.json", json.dumps(saved, indent=1).encode())
    print(f"{'memory':13} {'identified: pixels':>19} {'features':>9} {'latent':>8} {'+ seeds':>8}   "
          f"{'membership AUC: pixels':>23} {'latent':>7}   (null in brackets)")
    for name, m in saved["memories"].items():
        ident = m.get("identification", {})
        cells = [f"{ident[k]['identified_rate']:.3f} ({ident[k]['null_identified_rate']:.3f})" if k in ident else "-"
                 for k in ("psnr", "feature", "latent", "latent_with_seeds")]
        auc = [f"{m['membership'][k]['auc']:.3f} ({m['membership'][k]['null_auc']:.3f})" if k in m["membership"] else "-"
               for k in ("pixels", "latent")]
        print(f"{name:13} {cells[0]:>19} {cells[1]:>9} {cells[2]:>8} {cells[3]:>8}   {auc[0]:>23} {auc[1]:>7}")
    print(f"chance of identifying a source: {saved['memories']['itgan']['identification']['psnr']['chance_rate']:.4f}; "
          f"wrote {args.out / 'privacy.json'} and {args.out / 'privacy.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
