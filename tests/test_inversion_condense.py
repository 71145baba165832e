import pytest
import torch

from itgan_replay.condense import (CondenseConfig, Condenser, assemble, distribution_matching_loss,
                                   paired_regulariser, plan_jobs, run_jobs)
from itgan_replay.inversion import InversionConfig, invert
from itgan_replay.nets import ConvNet, EmbeddingSampler


def test_dm_loss_matches_hand_computed_value():
    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]])  # mean (2, 3)
    syn = torch.tensor([[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]])  # mean (1, 1)
    assert distribution_matching_loss(real, syn).item() == pytest.approx(1.0 + 4.0)


def test_regulariser_is_zero_for_equal_pairs_and_hand_computed_otherwise():
    real = torch.randn(4, 6)
    assert paired_regulariser(real, real.clone()).item() == 0
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert paired_regulariser(a, torch.zeros(2, 2)).item() == pytest.approx((1 + 4) / 2)


def test_inversion_halves_pixel_error_on_a_fixed_test_set(generator):
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    targets = generator.generate(torch.randn(6, 16, generator=torch.Generator().manual_seed(42)), y)
    start = torch.randn(6, 16, generator=torch.Generator().manual_seed(7))  # invert's seeded initial latents
    err0 = (generator.generate(start, y) - targets).pow(2).mean()
    torch.manual_seed(0)
    z = invert(generator, targets, y, ConvNet(4, width=8), steps=150, lr=0.05, batch_size=4, seed=7)
    err = (generator.generate(z, y) - targets).pow(2).mean()
    assert err <= 0.5 * err0


def class_data(n_real=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n_real, 3, 32, 32, generator=g) * 2 + torch.tensor([1.0, -1.0, 0.5]).view(1, 3, 1, 1)


def eval_dm(generator, z, real, label=0, n_nets=12):
    sampler = EmbeddingSampler("convnet", 4, width=16)
    rng = torch.Generator().manual_seed(123)
    with torch.no_grad():
        syn = generator(z, torch.full((len(z),), label))
        return sum(distribution_matching_loss(net.embed(real), net.embed(syn)).item()
                   for net in (sampler(rng) for _ in range(n_nets))) / n_nets


def condense(generator, split="fixed", seed=0, iterations=40, lam=0.0, inversion=None):
    real = class_data()
    config = CondenseConfig(iterations=iterations, lr=0.05, lam=lam, real_batch=32, subset_size=6, split=split)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=16), config, inversion=inversion)
    jobs = plan_jobs({0: 12}, config, seed)
    z0 = assemble(jobs, {job.key: condenser.initial_latents(job, real) for job in jobs})[0]
    return run_jobs(condenser, jobs, {0: real})[0], z0, real


def test_condensation_lowers_the_matching_loss(generator):
    z, z0, real = condense(generator)
    assert eval_dm(generator, z, real) < 0.7 * eval_dm(generator, z0, real)


def test_fixed_split_is_deterministic_per_seed(generator):
    a, _, _ = condense(generator, seed=3, iterations=5, lam=0.1)
    b, _, _ = condense(generator, seed=3, iterations=5, lam=0.1)
    c, _, _ = condense(generator, seed=4, iterations=5, lam=0.1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_inversion_initialises_jobs_from_their_paired_images(generator):
    inv = InversionConfig(steps=30, lr=0.05)
    z, z0, real = condense(generator, iterations=0, inversion=inv)
    assert torch.equal(z, z0)  # zero iterations: the initialisation itself
    random_z, _, _ = condense(generator, iterations=0)
    pixel_error = lambda latents: (generator.generate(latents, torch.zeros(12, dtype=torch.long)) - real[:12]).pow(2).mean()  # noqa: E731
    assert pixel_error(z) < pixel_error(random_z)


def test_plan_jobs_covers_each_latent_once():
    jobs = plan_jobs({0: 10, 3: 4}, CondenseConfig(subset_size=4), seed=0)
    assert [(j.label, len(j.indices)) for j in jobs] == [(0, 4), (0, 4), (0, 2), (3, 4)]
    assert sorted(i for j in jobs if j.label == 0 for i in j.indices) == list(range(10))
    assert len({j.seed for j in jobs}) == len(jobs)
    random = plan_jobs({0: 10}, CondenseConfig(subset_size=4, split="random"))
    assert len(random) == 1 and random[0].indices == tuple(range(10))


def test_random_split_regroups_and_updates_every_latent_each_step(generator):
    z, z0, _ = condense(generator, split="random", iterations=1)  # 12 latents, subsets of 6
    assert (z != z0).any(1).all()


def test_gradient_matching_runs(generator):
    config = CondenseConfig(iterations=2, lr=0.05, real_batch=8, matching="gradient")
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None)
    out = run_jobs(condenser, plan_jobs({1: 4}, config), {1: class_data(8)})
    assert out[1].shape == (4, 16) and torch.isfinite(out[1]).all()


def test_bad_configs_are_errors():
    for bad in ({"split": "mixed"}, {"matching": "kernel"}, {"lam": 1.5}):
        with pytest.raises(ValueError):
            CondenseConfig(**bad)
