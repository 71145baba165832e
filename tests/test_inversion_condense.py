import pytest
import torch

from itgan_replay.condensation.condense import (CondenseConfig, Condenser, _embed, assemble, distribution_matching_loss,
                                   paired_regulariser, plan_jobs, run_jobs)
from itgan_replay.condensation.inversion import InversionConfig, invert
from itgan_replay.condensation.nets import ConvNet, EmbeddingSampler


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
    ratios = []
    for seed in (0, 1):  # one run's ratio moves a lot with the seed (0.71 and 0.52 for these two)
        z, z0, real = condense(generator, seed=seed)
        ratios.append(eval_dm(generator, z, real) / eval_dm(generator, z0, real))
    assert sum(ratios) / 2 < 0.7


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
    assert {j.seed for j in jobs} == {0} and len({j.own_seed for j in jobs}) == len(jobs)
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
    for bad in ({"split": "mixed"}, {"matching": "kernel"}, {"lam": 1.5}, {"real_dtype": "float16"},
                {"real_dtype": "bfloat16", "matching": "gradient"}, {"input_grad_dtype": "float16"},
                {"input_grad_dtype": "bfloat16", "matching": "gradient"}):
        with pytest.raises(ValueError):
            CondenseConfig(**bad)


def test_bfloat16_real_embeddings_are_float32_and_within_bf16_rounding_of_the_float32_ones():
    net = EmbeddingSampler("convnet", 4, width=8)(torch.Generator().manual_seed(0))
    images = torch.randn(40, 3, 32, 32, generator=torch.Generator().manual_seed(1))  # two chunks: 32 + 8
    exact = _embed(net.embed, lambda x: x, images)
    low = _embed(net.embed, lambda x: x, images, torch.bfloat16)
    assert low.dtype == torch.float32 and low.shape == exact.shape
    relative = ((low - exact).norm() / exact.norm()).item()
    assert 1e-4 < relative < 2e-2  # rounded (bf16 has 8 significant bits), but only by rounding


def condensed(generator, n_latents, **settings):
    """Class 0's latents (N(0, I) starts) after condensing them with ``CondenseConfig(**settings)``."""
    config = CondenseConfig(lr=0.05, real_batch=16, **settings)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None)
    return run_jobs(condenser, plan_jobs({0: n_latents}, config), {0: class_data()})[0]


def test_bfloat16_real_embeddings_keep_the_synthetic_gradient_in_float32(generator):
    exact, low = condensed(generator, 6, iterations=2), condensed(generator, 6, iterations=2, real_dtype="bfloat16")
    assert exact.dtype == low.dtype == torch.float32 and not torch.equal(exact, low)
    start = condensed(generator, 6, iterations=0)
    assert (low - exact).abs().max() < 0.2 * (exact - start).abs().max()  # the same steps, up to the targets' rounding


def test_bfloat16_input_gradients_take_nearly_the_float32_steps(generator):
    exact, low = condensed(generator, 6, iterations=2), condensed(generator, 6, iterations=2, input_grad_dtype="bfloat16")
    assert low.dtype == torch.float32 and not torch.equal(exact, low)
    start = condensed(generator, 6, iterations=0)
    assert (low - exact).abs().max() < 0.05 * (exact - start).abs().max()


def test_compiled_embedding_net_gives_the_eager_latents(generator):
    compiled = condensed(generator, 7, iterations=2, subset_size=5, compile=True)
    assert torch.allclose(compiled, condensed(generator, 7, iterations=2, subset_size=5), atol=1e-5)


class Flatten(torch.nn.Module):
    """An embedding net whose features are the pixels, so every loss can be checked by hand."""

    def embed(self, x):
        return x.flatten(1)


def one_step(generator, lam, monkeypatch=None, scaled=None, split="fixed"):
    """Latents after one condensation step; ``scaled`` names a loss term multiplied by 1e6."""
    if scaled:
        import itgan_replay.condensation.condense as condense_module
        original = getattr(condense_module, scaled)
        monkeypatch.setattr(condense_module, scaled, lambda a, b: 1e6 * original(a, b))
    config = CondenseConfig(iterations=1, lr=0.05, lam=lam, real_batch=16, subset_size=6, split=split)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None)
    return run_jobs(condenser, plan_jobs({0: 12}, config, seed=1), {0: class_data()})[0]


@pytest.mark.parametrize("lam, silent, heard", [(1.0, "distribution_matching_loss", "paired_regulariser"),
                                               (0.0, "paired_regulariser", "distribution_matching_loss")])
def test_lambda_one_ignores_l_con_and_lambda_zero_ignores_r(generator, monkeypatch, lam, silent, heard):
    base = one_step(generator, lam)
    assert torch.equal(one_step(generator, lam, monkeypatch, silent), base)  # no gradient from that term
    monkeypatch.undo()
    assert not torch.equal(one_step(generator, lam, monkeypatch, heard), base)  # the other term drives the step


def test_each_step_draws_a_new_embedding_net_and_a_new_real_batch_of_distinct_images(generator):
    nets, batches = [], []

    class Spy(Condenser):
        def real_batch(self, n_real, rng):
            batches.append(super().real_batch(n_real, rng))
            return batches[-1]

    sampler = EmbeddingSampler("convnet", 4, width=8)
    recording = lambda rng: nets.append(sampler(rng).features[0].weight.clone()) or sampler.net  # noqa: E731
    config = CondenseConfig(iterations=6, lr=0.05, real_batch=16)
    run_jobs(Spy(generator, recording, config, inversion=None), plan_jobs({0: 4}, config), {0: class_data(48)})
    assert len(nets) == 6 and all(not torch.equal(a, b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert len(batches) == 6 and all(len(b) == 16 and len(set(b.tolist())) == 16 for b in batches)
    assert len({tuple(sorted(b.tolist())) for b in batches}) == 6
    assert set(torch.cat(batches).tolist()) <= set(range(48))


@pytest.mark.parametrize("config", [CondenseConfig(iterations=3, lr=0.05, lam=0.3, real_batch=16, subset_size=5),
                                    CondenseConfig(iterations=3, lr=0.05, real_batch=16, subset_size=4, split="random")])
def test_jobs_condensed_together_get_exactly_what_each_gets_alone(generator, config):
    real = {0: class_data(), 2: class_data(seed=1)}
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None)
    jobs = plan_jobs({0: 12, 2: 7}, config, seed=5)
    together = run_jobs(condenser, jobs, real)
    alone = assemble(jobs, {job.key: condenser.run_job(job, real[job.label]) for job in reversed(jobs)})
    assert all(torch.equal(together[c], alone[c]) for c in real)


def test_a_step_draws_one_embedding_net_for_all_its_jobs_from_the_seed_and_the_step(generator):
    drawn = []
    sampler = EmbeddingSampler("convnet", 4, width=8)
    recording = lambda rng: drawn.append(sampler(rng).features[0].weight.clone()) or sampler.net  # noqa: E731
    config = CondenseConfig(iterations=4, lr=0.05, real_batch=8, subset_size=4)
    jobs = plan_jobs({0: 12}, config, seed=2)
    run_jobs(Condenser(generator, recording, config, inversion=None), jobs, {0: class_data()})
    together = list(drawn)
    drawn.clear()
    Condenser(generator, recording, config, inversion=None).run_job(jobs[2], class_data())
    assert len(jobs) == 3 and len(together) == 4 and all(torch.equal(a, b) for a, b in zip(together, drawn, strict=True))
    drawn.clear()
    run_jobs(Condenser(generator, recording, config, inversion=None), plan_jobs({0: 12}, config, seed=3), {0: class_data()})
    assert not any(torch.equal(a, b) for a, b in zip(together, drawn))


def test_jobs_of_different_runs_cannot_be_condensed_together(generator):
    config = CondenseConfig(iterations=1, real_batch=8)
    jobs = plan_jobs({0: 4}, config, seed=0) + plan_jobs({1: 4}, config, seed=1)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None)
    with pytest.raises(ValueError, match="one plan_jobs"):
        condenser.condense(jobs, [torch.zeros(4, 16)] * 2, {0: class_data(8), 1: class_data(8)})
    with pytest.raises(ValueError, match="has 4 latents"):
        condenser.condense(jobs[:1], [torch.zeros(3, 16)], {0: class_data(8)})


def test_random_split_regroups_the_latents_at_every_step(generator):
    groupings = []

    class Spy(Condenser):
        def groups(self, n, rng):
            out = super().groups(n, rng)
            groupings.append(frozenset(frozenset(g.tolist()) for g in out))
            return out

    for split, jobs, latents_per_job, expected_groups in (("random", 1, 12, 2), ("fixed", 2, 6, 1)):
        groupings.clear()
        config = CondenseConfig(iterations=5, lr=0.05, real_batch=8, subset_size=6, split=split)
        run_jobs(Spy(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=None),
                 plan_jobs({0: 12}, config), {0: class_data()})
        assert len(groupings) == 5 * jobs
        for grouping in groupings:  # each step partitions all of its job's latents
            assert len(grouping) == expected_groups and sorted(i for g in grouping for i in g) == list(range(latents_per_job))
        assert len(set(groupings)) == (5 if split == "random" else 1)


def test_regulariser_pairs_each_latent_with_its_own_photo(generator, monkeypatch):
    import itgan_replay.condensation.condense as condense_module
    pairs = []
    monkeypatch.setattr(condense_module, "paired_regulariser", lambda r, s: pairs.append((r, s)) or (r - s).pow(2).sum(1).mean())
    real = class_data(12)
    config = CondenseConfig(iterations=1, lr=0.05, lam=0.5, real_batch=8, subset_size=4, split="random")
    job = plan_jobs({2: 12}, config, seed=3)[0]
    z0 = torch.randn(12, 16, generator=torch.Generator().manual_seed(0))
    Condenser(generator, lambda rng: Flatten(), config, augment=None).condense([job], [z0], {2: real})
    images = generator.generate(z0, torch.full((12,), 2)).flatten(1)
    assert len(pairs) == 3  # three random subsets of 4
    for real_emb, syn_emb in pairs:
        for r, s in zip(real_emb, syn_emb):
            i = int((images - s).abs().sum(1).argmin())  # which latent produced this synthetic row
            assert torch.allclose(s, images[i], atol=1e-5) and torch.equal(r, real[job.indices[i]].flatten())


def test_inversion_uses_the_given_feature_net(generator, monkeypatch):
    import itgan_replay.condensation.condense as condense_module
    seen = []
    monkeypatch.setattr(condense_module, "invert", lambda g, x, y, net, *a: seen.append(net) or torch.zeros(len(x), 16))
    given = ConvNet(4, width=8)
    config = CondenseConfig(iterations=0)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=InversionConfig(steps=1))
    job = plan_jobs({0: 3}, config)[0]
    condenser.initial_latents(job, class_data(3))
    Condenser(generator, condenser.sampler, config, inversion=InversionConfig(steps=1), inversion_net=given).initial_latents(job, class_data(3))
    assert seen[0] is not given and seen[1] is given


def test_inversion_embeds_the_real_images_once_per_batch(generator):
    class Counting(ConvNet):
        calls = 0

        def embed(self, x):
            Counting.calls += 1
            return super().embed(x)

    y = torch.tensor([0, 1, 2])
    targets = class_data(3)
    invert(generator, targets, y, Counting(4, width=8), steps=5, lr=0.05, batch_size=2, seed=1)
    assert Counting.calls == 2 * (1 + 5)  # two batches: the real images once, the generated ones every step


def test_quantisation_aware_condensation_generates_from_the_stored_codes_and_still_learns(generator, monkeypatch):
    from itgan_replay.memory.codecs import CODECS

    codec, seen = CODECS["int4"], []
    real_forward = type(generator).__call__

    def recording(self, z, y):
        seen.append(z.detach().clone())
        return real_forward(self, z, y)

    config = CondenseConfig(iterations=40, lr=0.05, real_batch=32, subset_size=12)
    jobs = plan_jobs({0: 12}, config, 0)
    real = class_data()
    z0 = torch.randn(12, generator.config.z_dim, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(type(generator), "__call__", recording)
    quantised = Condenser(generator, EmbeddingSampler("convnet", 4, width=16), config, inversion=None,
                          codec=codec).condense(jobs, [z0], {0: real})[0]
    monkeypatch.undo()
    assert len(seen) == 40 and all(torch.equal(codec.round_trip(z), z) for z in seen)  # only stored values generate
    assert eval_dm(generator, codec.round_trip(quantised), real) < 0.8 * eval_dm(generator, codec.round_trip(z0), real)
    plain = Condenser(generator, EmbeddingSampler("convnet", 4, width=16), config, inversion=None).condense(jobs, [z0], {0: real})[0]
    assert not torch.equal(plain, quantised)


def test_an_inversion_store_reuses_exactly_the_inversions_of_the_same_inputs(generator, tmp_path, monkeypatch):
    import itgan_replay.condensation.condense as condense_module
    from itgan_replay.condensation.inversion import InversionStore

    config, inv, real = CondenseConfig(iterations=0), InversionConfig(steps=3), class_data(5)
    sampler = EmbeddingSampler("convnet", 4, width=8)
    job = plan_jobs({0: 5}, config, seed=2)[0]
    alone = Condenser(generator, sampler, config, inversion=inv).initial_latents(job, real)
    first = Condenser(generator, sampler, config, inversion=inv, inversion_store=InversionStore(tmp_path))
    assert torch.equal(first.initial_latents(job, real), alone) and first.inversions_reused == 0
    assert len(list(tmp_path.glob("*.pt"))) == 1
    calls = []
    real_invert = condense_module.invert
    monkeypatch.setattr(condense_module, "invert", lambda *a, **kw: calls.append(a) or real_invert(*a, **kw))
    second = Condenser(generator, sampler, config, inversion=inv, inversion_store=InversionStore(tmp_path))
    assert torch.equal(second.initial_latents(job, real), alone) and second.inversions_reused == 1 and calls == []
    other_images, other_seed = real.flip(0), plan_jobs({0: 5}, config, seed=3)[0]
    second.initial_latents(job, other_images)  # other photos, other seed, other settings: each inverts anew
    second.initial_latents(other_seed, real)
    Condenser(generator, sampler, config, inversion=InversionConfig(steps=4), inversion_store=InversionStore(tmp_path)).initial_latents(job, real)
    assert len(calls) == 3 and second.inversions_reused == 1 and len(list(tmp_path.glob("*.pt"))) == 4


def test_a_corrupt_inversion_file_is_an_error_not_a_silent_inversion(generator, tmp_path):
    from itgan_replay.condensation.inversion import InversionStore
    from itgan_replay.memory.files import StoredFileError

    config, inv, real = CondenseConfig(iterations=0), InversionConfig(steps=1), class_data(3)
    condenser = Condenser(generator, EmbeddingSampler("convnet", 4, width=8), config, inversion=inv,
                          inversion_store=InversionStore(tmp_path))
    job = plan_jobs({0: 3}, config)[0]
    condenser.initial_latents(job, real)
    (stored,) = tmp_path.glob("*.pt")
    stored.write_bytes(stored.read_bytes()[:-10])
    with pytest.raises(StoredFileError, match="corrupt or truncated"):
        condenser.initial_latents(job, real)
