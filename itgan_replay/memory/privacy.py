"""How much of its source photos a memory gives back: distances from each stored sample, as the
memory returns it, to its own source photo and to the nearest other photo of its class."""
from __future__ import annotations

from collections.abc import Callable

import torch

Distances = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pairwise_psnr(a: torch.Tensor, b: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    """PSNR in dB of every image of ``a`` (N, C, H, W) against every image of ``b`` (M, C, H, W),
    pixels in [0, 1]: an (N, M) matrix, ``inf`` where two images are equal."""
    flat_b = b.flatten(1).double()
    rows = []
    for part in a.flatten(1).double().split(chunk):
        mse = torch.cdist(part, flat_b, compute_mode="donot_use_mm_for_euclid_dist").pow(2) / flat_b.shape[1]
        rows.append(-10 * torch.log10(mse.clamp_min(0)))
    return torch.cat(rows).float()


def reidentification(returned: torch.Tensor, class_photos: torch.Tensor, sources: torch.Tensor,
                     similarity: Distances, higher_is_closer: bool) -> dict[str, torch.Tensor]:
    """For returned sample ``i`` (what the memory gives back) and its source ``class_photos[sources[i]]``:
    the similarity to the source, to the nearest *other* photo of the class, and whether the source
    is the nearest photo of all (the memory then identifies it among its class).

    Args:
        returned: (N, ...) the stored samples as the memory returns them.
        class_photos: (M, ...) every photo of the class the samples could come from, sources included.
        sources: (N,) index into ``class_photos`` of each sample's source photo.
        similarity: ``(a, b) -> (len(a), len(b))`` matrix.
        higher_is_closer: True for a similarity such as PSNR, False for a distance.
    """
    if len(class_photos) < 2:
        raise ValueError("reidentification needs at least 2 photos of the class (a source and another)")
    scores = similarity(returned, class_photos)
    rows = torch.arange(len(sources))
    own = scores[rows, sources]
    worst = float("-inf") if higher_is_closer else float("inf")
    others = scores.clone()
    others[rows, sources] = worst
    nearest_other = others.max(1).values if higher_is_closer else others.min(1).values
    identified = own > nearest_other if higher_is_closer else own < nearest_other
    return {"to_source": own, "to_nearest_other": nearest_other, "identified": identified}


def feature_distances(embed: Callable[[torch.Tensor], torch.Tensor]) -> Distances:
    """Euclidean distance between the embeddings ``embed`` gives two sets of images."""
    def distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.cdist(embed(a), embed(b))
    return distances


def membership_auc(members: torch.Tensor, nonmembers: torch.Tensor) -> float:
    """How well a score tells members from non-members (higher: more likely a member): the probability that a random
    member scores above a random non-member, ties counted half (the ROC AUC); 0.5 when the score says nothing."""
    m, n = members.double()[:, None], nonmembers.double()[None, :]
    return float(((m > n).double() + 0.5 * (m == n).double()).mean())


def tpr_at_fpr(members: torch.Tensor, nonmembers: torch.Tensor, fpr: float) -> float:
    """The share of members that score above the threshold which at most ``fpr`` of the non-members exceed."""
    if not 0 <= fpr < 1:
        raise ValueError(f"fpr must lie in [0, 1), got {fpr}")
    ranked = nonmembers.double().sort(descending=True).values
    allowed = int(fpr * len(ranked))  # non-members that may score above the threshold
    threshold = ranked[allowed] if allowed < len(ranked) else float("-inf")
    return float((members.double() > threshold).double().mean())


def best_match(photos: torch.Tensor, returned: torch.Tensor, similarity: Distances, higher_is_closer: bool) -> torch.Tensor:
    """For each of ``photos``, its similarity to the nearest of ``returned`` (negated for a distance): a membership
    score, higher for a photo the memory gives back something close to."""
    scores = similarity(photos, returned)
    return scores.max(1).values if higher_is_closer else -scores.min(1).values
