import copy
from dataclasses import fields

import pytest
import torch
from avalanche.core import SupervisedPlugin
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.supervised import EWC, LwF, Naive

from itgan_replay.condensation.condense import CondenseConfig
from itgan_replay.condensation.inversion import InversionConfig
from itgan_replay.condensation.recipe import LatentRecipe
from itgan_replay.condensation.nets import ConvNet
from itgan_replay.data import ImageTensors
from itgan_replay.memory.latent import BudgetError
from strategies import ITGANReplayConfig, ITGANReplayPlugin
from strategies.scenario import class_incremental_stream
from conftest import tiny_generator


def tiny_benchmark_data() -> ImageTensors:
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(12)
    images = (torch.rand(48, 3, 32, 32, generator=g) * 60 + labels.view(-1, 1, 1, 1) * 50).to(torch.uint8)
    return ImageTensors(images, labels, ["a", "b", "c", "d"])


def tiny_benchmark():
    data = tiny_benchmark_data()
    return class_incremental_stream(data, data, 2, [2, 0, 3, 1])


class Spy(SupervisedPlugin):
    def __init__(self):
        super().__init__()
        self.batch_labels = {}

    def before_backward(self, strategy, **kwargs):
        self.batch_labels.setdefault(strategy.experience.current_experience, set()).update(strategy.mb_y.tolist())


def plugin_config(**kw):
    """A small plugin config; ``kw`` may set plugin and recipe fields alike."""
    recipe = dict(condense=CondenseConfig(iterations=3, lr=0.01, real_batch=8, subset_size=4),
                  inversion=InversionConfig(steps=3), embedding_width=8)
    plugin = dict(replay_batch_size=6, progress=False)
    for key, value in kw.items():
        (recipe if key in {f.name for f in fields(LatentRecipe)} else plugin)[key] = value
    return ITGANReplayConfig(LatentRecipe(**recipe), **plugin)


def run(plugin, benchmark, spy):
    """Train a small Naive strategy with ``plugin`` on ``benchmark``; the memory's bytes after each experience."""
    strategy = Naive(model=ConvNet(4, width=8), optimizer=None, criterion=torch.nn.CrossEntropyLoss(),
                     train_mb_size=8, train_epochs=1, plugins=[plugin, spy], evaluator=EvaluationPlugin(loggers=[]))
    strategy.optimizer = torch.optim.SGD(strategy.model.parameters(), lr=0.01)
    budgets = []
    for exp in benchmark.train_stream:
        strategy.train(exp)
        budgets.append(plugin.memory_use().stored_bytes)
    return budgets


@pytest.mark.parametrize("regenerate", ["batch", "experience"])
def test_plugin_with_naive_condenses_new_classes_and_replays_old_labels(regenerate, tmp_path):
    generator = tiny_generator()
    before = copy.deepcopy(generator.net.state_dict())
    budget = generator.param_bytes + 4 * 5 * 16 * 4  # room for 5 latents of each of the 4 classes
    plugin = ITGANReplayPlugin(generator, plugin_config(budget_bytes=budget, total_classes=4, regenerate=regenerate),
                               memory_path=tmp_path / "memory.pt")
    seen_data = []
    original_add = plugin.add_classes
    plugin.add_classes = lambda images, labels, classes, experience=0: (
        seen_data.append(sorted(set(labels.tolist()))), original_add(images, labels, classes, experience))
    spy = Spy()
    totals = run(plugin, tiny_benchmark(), spy)

    assert [(r["experience"], r["class"], r["real_images"]) for r in plugin.condensed] == [
        (0, 0, 12), (0, 2, 12), (1, 1, 12), (1, 3, 12)]
    assert seen_data == [[0, 2], [1, 3]]  # each experience's own data only
    assert spy.batch_labels[0] == {0, 2}
    assert {0, 2} <= spy.batch_labels[1]  # replayed old classes in the second experience's batches
    assert all(t <= budget for t in totals) and plugin.memory.classes == [0, 1, 2, 3]
    assert all(len(z) == 5 for z in plugin.memory.latents.values())
    after = generator.net.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "memory.pt").exists()


class BatchSpy(Spy):
    """Records every training mini-batch's labels and size per experience."""

    def __init__(self):
        super().__init__()
        self.batch_sizes = {}

    def before_backward(self, strategy, **kwargs):
        super().before_backward(strategy, **kwargs)
        self.batch_sizes.setdefault(strategy.experience.current_experience, set()).add(len(strategy.mb_x))


@pytest.mark.parametrize("strategy_class, options", [(LwF, {"alpha": 1.0, "temperature": 2.0}),
                                                     (EWC, {"ewc_lambda": 0.5})])
def test_plugin_replays_into_the_batches_of_stock_strategies_other_than_naive(strategy_class, options):
    plugin = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=5))
    spy = BatchSpy()
    strategy = strategy_class(model=ConvNet(4, width=8), optimizer=None, criterion=torch.nn.CrossEntropyLoss(),
                              train_mb_size=8, train_epochs=1, plugins=[plugin, spy],
                              evaluator=EvaluationPlugin(loggers=[]), **options)
    strategy.optimizer = torch.optim.SGD(strategy.model.parameters(), lr=0.01)
    for exp in tiny_benchmark().train_stream:
        strategy.train(exp)
    assert spy.batch_labels[0] == {0, 2} and spy.batch_sizes[0] == {8}  # nothing to replay yet
    assert spy.batch_labels[1] == {0, 1, 2, 3}  # the old classes arrive only through replay
    assert spy.batch_sizes[1] == {8 + 6}  # every batch: 8 new images and 6 regenerated ones
    assert sorted(plugin.memory.classes) == [0, 2]


def test_latents_per_class_and_random_init(tmp_path):
    config = plugin_config(latents_per_class=3, init="random", condense=CondenseConfig(iterations=0))
    plugin = ITGANReplayPlugin(tiny_generator(), config, memory_path=tmp_path / "memory.pt")
    run(plugin, tiny_benchmark(), Spy())
    assert {c: len(z) for c, z in plugin.memory.latents.items()} == {0: 3, 1: 3, 2: 3, 3: 3}


def test_last_experience_is_condensed_only_when_the_memory_is_kept():
    plugin = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=3, init="random",
                                                               condense=CondenseConfig(iterations=0)))
    run(plugin, tiny_benchmark(), Spy())
    assert plugin.memory.classes == [0, 2]  # experience 1 (classes 3 and 1) is the last; no memory_path


def test_bad_plugin_settings_are_errors():
    with pytest.raises(ValueError, match="exactly one"):
        ITGANReplayPlugin(tiny_generator(), ITGANReplayConfig())
    with pytest.raises(ValueError, match="init must be one of"):
        LatentRecipe(init="noise")
    generator = tiny_generator()
    with pytest.raises(BudgetError, match="below the generator"):
        ITGANReplayPlugin(generator, plugin_config(budget_bytes=generator.param_bytes - 1))


def test_pooled_embedding_nets_are_trained_on_the_experience():
    plugin = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=2, embedding="pool", pool_size=2))
    run(plugin, tiny_benchmark(), Spy())
    assert {c: len(z) for c, z in plugin.memory.latents.items()} == {0: 2, 2: 2}
    assert all(torch.isfinite(z).all() for z in plugin.memory.latents.values())


def test_inversion_net_is_trained_on_the_current_experience_only(monkeypatch):
    import itgan_replay.condensation.recipe as plugin_module
    seen = []
    real_trained_net = plugin_module.trained_net
    monkeypatch.setattr(plugin_module, "trained_net",
                        lambda images, labels, *a, **kw: seen.append(set(labels.tolist())) or real_trained_net(images, labels, *a, **kw))
    plugin = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=2, inversion_net_epochs=1))
    run(plugin, tiny_benchmark(), Spy())
    assert seen == [{2, 0}]  # experience 0 holds classes 2 and 0; the last one is not condensed
    assert plugin.seconds["inversion_net"] > 0 and plugin.seconds["inversion"] > 0 and plugin.seconds["condensation"] > 0
    untrained = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=2, inversion_net="random"))
    seen.clear()
    run(untrained, tiny_benchmark(), Spy())
    assert seen == []


def test_float16_generator_is_counted_and_used_for_condensation_and_replay():
    generator = tiny_generator()
    plugin = ITGANReplayPlugin(generator, plugin_config(latents_per_class=2, generator_dtype="float16"))
    assert plugin.generator is plugin.memory.generator and plugin.generator.storage_dtype == torch.float16
    n_float = sum(t.numel() for t in generator.net.state_dict().values() if t.is_floating_point())
    assert generator.param_bytes - plugin.memory.generator_bytes == 2 * n_float
    for t in plugin.generator.net.state_dict().values():  # every weight it computes with is a float16 value
        assert not t.is_floating_point() or torch.equal(t, t.half().float())
    run(plugin, tiny_benchmark(), Spy())
    z, y = plugin.memory.all()
    assert torch.equal(plugin.memory.sample(len(z), rng=torch.Generator().manual_seed(0))[0],
                       generator.stored_as(torch.float16).generate(*[t[torch.randint(len(z), (len(z),), generator=torch.Generator().manual_seed(0))] for t in (z, y)]))
    with pytest.raises(ValueError, match="generator_dtype must be one of"):
        ITGANReplayConfig(latents_per_class=2, generator_dtype="int4")
    with pytest.raises(ValueError, match="stored as"):  # a memory of the float16 generator with a float32 setting
        ITGANReplayPlugin(generator, plugin_config(latents_per_class=2), memory=plugin.memory)


def test_generative_replay_draws_fresh_latents_and_balanced_labels_of_seen_classes_and_stores_the_generator_only():
    from strategies.generative_replay import GenerativeReplayPlugin

    generator = tiny_generator()
    with pytest.raises(BudgetError, match="below the generator's"):
        GenerativeReplayPlugin(generator, generator.param_bytes - 1)
    plugin = GenerativeReplayPlugin(generator, generator.param_bytes, "float16", replay_batch_size=7)
    stored = generator.stored_as(torch.float16).param_bytes
    assert plugin.memory_use().stored_bytes == plugin.memory_use().generator_bytes == stored < generator.param_bytes
    batches = []

    class Batches(Spy):
        def before_backward(self, strategy, **kwargs):
            super().before_backward(strategy, **kwargs)
            batches.append((strategy.mb_x[-7:].clone(), strategy.mb_y[-7:].clone(), len(strategy.mb_y)))

    spy = Batches()
    strategy = Naive(model=ConvNet(4, width=8), optimizer=None, criterion=torch.nn.CrossEntropyLoss(),
                     train_mb_size=8, train_epochs=1, plugins=[plugin, spy], evaluator=EvaluationPlugin(loggers=[]))
    strategy.optimizer = torch.optim.SGD(strategy.model.parameters(), lr=0.01)
    benchmark = tiny_benchmark()
    for exp in benchmark.train_stream:
        strategy.train(exp)
    assert spy.batch_labels[0] == {0, 2} and spy.batch_labels[1] == {0, 1, 2, 3}  # replay of 0 and 2 in experience 1
    replayed = [b for b in batches if b[2] == 8 + 7]
    assert len(replayed) == 3 and len(batches) == 6  # experience 1's three batches get 7 generated images each
    for x, y, _ in replayed:
        assert sorted(torch.bincount(y, minlength=4)[[0, 2]].tolist()) == [3, 4] and set(y.tolist()) == {0, 2}
    assert not torch.equal(replayed[0][0], replayed[1][0])  # fresh latents every batch
    assert plugin.seen == [0, 1, 2, 3]


def test_renormalize_maps_one_normalisation_onto_another_by_hand():
    from itgan_replay.data import normalize, renormalize

    pixels = torch.tensor([[[[51]], [[102]], [[204]]]], dtype=torch.uint8)  # 0.2, 0.4, 0.8 in [0, 1] units
    source, target = ((0.5, 0.4, 0.3), (0.25, 0.25, 0.2)), ((0.0, 0.5, 0.5), (1.0, 0.5, 0.25))
    mapped = renormalize(normalize(pixels, *source), source, target)
    assert mapped.flatten().tolist() == pytest.approx([0.2, -0.2, 1.2])  # (0.2 - 0) / 1, (0.4 - 0.5) / 0.5, (0.8 - 0.5) / 0.25
    same = normalize(pixels, *source)
    assert renormalize(same, source, source) is same


@pytest.mark.parametrize("method", ["itgan", "gan-fresh"])
def test_generator_methods_condense_and_replay_in_the_streams_normalisation(method, monkeypatch):
    """A stream normalised with its own statistics: condensation gets the same images, in the generator's space, as
    from a stream normalised with the generator's, and every replayed image is the generator's, mapped into the
    stream's space."""
    from types import SimpleNamespace

    from itgan_replay.data import renormalize
    from strategies import itgan_plugin
    from strategies.methods import build_method

    generator = tiny_generator()
    own = ((0.45, 0.5, 0.55), (0.3, 0.2, 0.25))
    as_generator = (generator.mean_values, generator.std_values)
    condensed, real_build = {}, itgan_plugin.build_latents

    def spy(generator, images, *args, **kwargs):
        condensed.setdefault(stats, []).append(images)
        return real_build(generator, images, *args, **kwargs)

    monkeypatch.setattr(itgan_plugin, "build_latents", spy)
    for stats in (as_generator, own):
        data = tiny_benchmark_data().with_stats(*stats)  # the same uint8 images, normalised with ``stats``
        benchmark = class_incremental_stream(data, data, 2, [2, 0, 3, 1])
        [plugin] = build_method(method, 10**6, 4, generator, plugin_config(), 6, image_stats=stats)
        run(plugin, benchmark, Spy())
        # one replay batch by hand, beside the generator's own images for the same random draws
        batch = SimpleNamespace(mbatch=[torch.zeros(0, 3, 32, 32), torch.zeros(0, dtype=torch.long)], train_mb_size=6,
                                device="cpu")
        plugin._rng.manual_seed(5)
        plugin.before_forward(batch)
        plugin._rng.manual_seed(5)
        if method == "itgan":
            expected, _ = plugin.memory.sample(6, "cpu", rng=plugin._rng)
        else:  # the plugin's draw: a class offset, then fresh latents
            seen = torch.tensor(plugin.seen)
            offset = int(torch.randint(len(seen), (1,), generator=plugin._rng))
            z = torch.randn(6, generator.config.z_dim, generator=plugin._rng)
            expected = plugin.generator.generate(z, seen[(torch.arange(6) + offset) % len(seen)])
        assert torch.allclose(batch.mbatch[0], renormalize(expected, as_generator, stats), atol=1e-5)
        assert stats == as_generator or not torch.allclose(batch.mbatch[0], expected, atol=1e-2)  # the spaces differ
    if method == "itgan":
        for a, b in zip(condensed[as_generator], condensed[own], strict=True):
            assert torch.allclose(a, b, atol=1e-5)


def test_condensation_progress_bar_counts_iterations_against_a_total_on_stderr(capsys):
    plugin = ITGANReplayPlugin(tiny_generator(), plugin_config(latents_per_class=2, progress=True))
    data = tiny_benchmark_data()
    plugin.add_classes(data.normalize(data.images), data.labels, [0, 1], experience=1)
    err = capsys.readouterr().err
    assert "condense experience 2 (2 classes)" in err and "0/3 [" in err  # 3 condensation iterations: the total
