import pytest
import torch

from itgan_replay.condensation.augment import FAMILIES, SiameseAugment, cutout, diff_augment, flip, translate


def images(n=5, seed=0):
    return torch.rand(n, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", FAMILIES)
def test_same_seed_same_transform_on_real_and_synthetic(family):
    aug = SiameseAugment([family])
    real, syn = images(6, 1), images(4, 2)
    t1 = aug.sample(torch.Generator().manual_seed(3))
    t2 = aug.sample(torch.Generator().manual_seed(3))
    assert t1.values == t2.values
    # one parameter set for every image, whatever the batch: image 0 of syn transforms like image 0 of real would
    both = torch.cat([real, syn])
    assert torch.equal(t1(both)[:6], t1(real))
    assert torch.allclose(t1(both)[6:], t2(syn), atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_different_seeds_give_different_transforms(family):
    aug, x = SiameseAugment([family]), images()
    outs = {tuple(aug.sample(torch.Generator().manual_seed(s))(x).flatten()[::97].tolist()) for s in range(8)}
    assert len(outs) > 1


def test_family_drawn_per_call_covers_all():
    aug = SiameseAugment()
    rng = torch.Generator().manual_seed(0)
    assert {aug.sample(rng).family for _ in range(200)} == set(FAMILIES)


def test_translate_shifts_whole_pixels_with_zero_fill():
    x = images(2)
    out = translate(x, torch.tensor([1, 0]), torch.tensor([0, -2]))
    assert torch.equal(out[0, :, :, 1:], x[0, :, :, :-1]) and out[0, :, :, 0].abs().sum() == 0
    assert torch.equal(out[1, :, :-2, :], x[1, :, 2:, :]) and out[1, :, -2:, :].abs().sum() == 0


def test_cutout_zeroes_a_square():
    x = torch.ones(1, 3, 32, 32)
    out = cutout(x, torch.tensor([10]), torch.tensor([20]), 16)
    assert int((out[0, 0] == 0).sum()) == 16 * 16
    assert out[0, 0, 20, 10] == 0 and out[0, 0, 20, 18] == 1 and out[0, 0, 12, 2] == 0


def test_flip_and_gradients_flow():
    x = images(2).requires_grad_(True)
    out = flip(x, torch.tensor([True, False]))
    assert torch.equal(out[0], x[0].flip(2)) and torch.equal(out[1], x[1])
    SiameseAugment(["rotate"]).sample(torch.Generator().manual_seed(0))(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_diff_augment_is_per_image_and_seeded():
    x = images(1).expand(8, -1, -1, -1)
    out = diff_augment(x, torch.Generator().manual_seed(0))
    assert not all(torch.equal(out[0], out[i]) for i in range(1, 8))
    assert torch.equal(out, diff_augment(x, torch.Generator().manual_seed(0)))


def test_unknown_family_is_an_error():
    with pytest.raises(ValueError, match="unknown DSA families"):
        SiameseAugment(["blur"])


def draws(family, key, n=4500, seed=0):
    aug, rng = SiameseAugment([family]), torch.Generator().manual_seed(seed)
    return torch.tensor([aug.sample(rng).values[key] for _ in range(n)], dtype=torch.float64)


def assert_uniform_integers(values, low, high):
    """Every integer in [low, high] drawn, each about equally often (what torch.randint gives the reference)."""
    counts = torch.bincount((values - low).long(), minlength=high - low + 1).double()
    assert len(counts) == high - low + 1 and counts.min() > 0
    expected = len(values) / len(counts)
    assert ((counts - expected).abs() < 5 * expected**0.5).all(), counts  # a rounded U[low, high] halves the ends


def test_dsa_crop_shifts_are_uniform_integers_in_plus_minus_4_as_the_reference():
    assert_uniform_integers(draws("crop", "dx"), -4, 4)
    assert_uniform_integers(draws("crop", "dy", seed=1), -4, 4)


def test_dsa_cutout_centres_are_uniform_on_0_to_32_as_the_reference():
    assert_uniform_integers(draws("cutout", "cx", 6600), 0, 32)  # 16-pixel (even) cutout: randint(0, 33)


def test_dsa_continuous_parameters_span_the_reference_ranges():
    def span(family, key):
        v = draws(family, key, 2000)
        return v.min().item(), v.max().item(), v.mean().item()
    checks = {("scale", "sx"): (1 / 1.2, 1.2), ("rotate", "angle"): (-15 * torch.pi / 180, 15 * torch.pi / 180),
              ("color", "brightness"): (-0.5, 0.5), ("color", "saturation"): (0.0, 2.0), ("color", "contrast"): (0.5, 1.5)}
    for (family, key), (low, high) in checks.items():
        lo, hi, mean = span(family, key)
        width = high - low
        assert low <= lo < low + 0.02 * width and high - 0.02 * width < hi <= high, (family, key, lo, hi)
        assert abs(mean - (low + high) / 2) < 0.03 * width, (family, key, mean)
    assert abs(draws("flip", "flip", 2000).mean().item() - 0.5) < 0.04
