import pytest
import torch

from itgan_replay.gan.generator import FrozenGenerator, Generator, GeneratorConfig
from itgan_replay.memory.files import StoredFileError
from conftest import tiny_generator


def test_paper_setting_is_constructible():
    g = Generator(GeneratorConfig(n_classes=10, ch=64))
    out = g.eval()(torch.randn(2, 128), torch.tensor([0, 9]))
    assert out.shape == (2, 3, 32, 32) and out.abs().max() <= 1
    assert 3_000_000 < sum(p.numel() for p in g.parameters()) < 6_000_000  # BigGAN-CIFAR scale


def test_frozen_outputs_are_renormalised_and_chunked(generator):
    z, y = torch.randn(20, 16), torch.randint(4, (20,))
    raw = generator.net(z, y)
    expected = ((raw + 1) / 2 - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.25, 0.25, 0.2]).view(1, 3, 1, 1)
    # the folded network reorders float sums: equal to the plain one within 1e-5 (here scaled by 1/std)
    assert torch.allclose(generator.generate(z, y), expected, atol=5e-5)
    assert torch.allclose(generator(z, y), expected, atol=5e-5)  # the differentiable path, same chunks
    generator.chunk_size = 500
    assert torch.allclose(generator.generate(z, y), expected, atol=5e-5)


def test_frozen_generator_has_no_parameter_gradients_but_passes_latent_gradients(generator):
    z = torch.randn(3, 16, requires_grad=True)
    generator.train()
    assert not generator.net.training
    generator(z, torch.tensor([0, 1, 2])).sum().backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in generator.parameters())


def test_fingerprint_is_stable_and_sensitive():
    a, b = tiny_generator(seed=0), tiny_generator(seed=0)
    assert a.fingerprint == b.fingerprint
    assert tiny_generator(seed=1).fingerprint != a.fingerprint


def test_bfloat16_runs_on_cpu_and_returns_float32(generator):
    g16 = FrozenGenerator(Generator(generator.config), (0.5,) * 3, (0.5,) * 3, dtype=torch.bfloat16)
    out = g16.generate(torch.randn(4, 16), torch.tensor([0, 1, 2, 3]))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_save_load_roundtrip_and_errors(generator, tmp_path):
    path = tmp_path / "g.pt"
    generator.save(path, extra={"dataset": "imagefolder:elsewhere"})
    loaded = FrozenGenerator.load(path)
    z, y = torch.randn(5, 16), torch.tensor([0, 1, 2, 3, 0])
    assert loaded.fingerprint == generator.fingerprint
    assert loaded.provenance == {"generator": generator.fingerprint, "generator_trained_on": "imagefolder:elsewhere",
                                 "generator_storage_dtype": "float32"}
    assert generator.provenance["generator_trained_on"] is None  # never saved: nothing recorded
    assert torch.equal(loaded.generate(z, y), generator.generate(z, y))
    with pytest.raises(FileNotFoundError):
        FrozenGenerator.load(tmp_path / "missing.pt")
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(StoredFileError, match="checksum"):
        FrozenGenerator.load(path)


def test_bad_labels_and_shapes_are_errors(generator):
    with pytest.raises(ValueError, match="labels must lie"):
        generator(torch.randn(2, 16), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="expected z of shape"):
        generator(torch.randn(2, 15), torch.tensor([0, 1]))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_stored_as_rounds_the_weights_counts_their_bytes_and_leaves_the_source(generator, dtype, tmp_path):
    before = {k: v.clone() for k, v in generator.net.state_dict().items()}
    stored = generator.stored_as(dtype)
    floats = sum(t.numel() for t in before.values() if t.is_floating_point())
    assert generator.param_bytes - stored.param_bytes == 2 * floats and stored.storage_dtype == dtype
    for key, t in stored.net.state_dict().items():
        assert torch.equal(t, before[key].to(dtype).to(before[key].dtype) if t.is_floating_point() else before[key])
    assert all(torch.equal(v, before[k]) for k, v in generator.net.state_dict().items())  # source untouched
    z, y = torch.randn(6, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    diff = (stored.generate(z, y) - generator.generate(z, y)).abs().max()
    assert 0 < diff < 0.1
    assert stored.fingerprint == generator.fingerprint
    assert stored.provenance["generator_storage_dtype"] == str(dtype).removeprefix("torch.")
    with pytest.raises(ValueError, match="already stored"):
        stored.stored_as(torch.float16)
    with pytest.raises(ValueError, match="save the float32"):
        stored.save(tmp_path / "g.pt")
    with pytest.raises(ValueError, match="storage dtype must be one of"):
        generator.stored_as(torch.int16)


def test_int8_storage_quantises_weights_per_output_channel_and_counts_scales(generator):
    before = generator.net.state_dict()
    stored = generator.stored_as(torch.int8)
    expected_bytes = 0
    for key, t in stored.net.state_dict().items():
        source = before[key]
        if not t.is_floating_point():
            assert torch.equal(t, source)
            expected_bytes += t.numel() * t.element_size()
        elif t.dim() >= 2:  # weight: integer multiples of one float16 scale per output channel, max |w| -> 127
            scale = (source.abs().flatten(1).max(1).values / 127).half().float()
            codes = t.flatten(1) / scale[:, None]
            assert torch.allclose(codes, codes.round(), atol=1e-3) and codes.abs().max() <= 127 + 1e-3
            assert ((t - source).flatten(1).abs() <= scale[:, None] / 2 + 1e-6).all()
            expected_bytes += t.numel() + 2 * len(t)
        else:  # biases, norms: float16
            assert torch.equal(t, source.half().float())
            expected_bytes += 2 * t.numel()
    assert stored.param_bytes == expected_bytes < generator.param_bytes / 3.5
    assert stored.provenance["generator_storage_dtype"] == "int8"
    z, y = torch.randn(6, 16), torch.tensor([0, 1, 2, 3, 0, 1])
    assert 0 < (stored.generate(z, y) - generator.generate(z, y)).abs().max() < 0.3


@pytest.mark.parametrize("ch, storage, size", [(2, torch.float32, 32), (8, torch.float32, 32), (4, torch.float16, 32),
                                               (4, torch.float32, 64)])
def test_folded_generator_computes_the_plain_forward_and_its_latent_gradient(ch, storage, size):
    torch.manual_seed(1)
    g = Generator(GeneratorConfig(n_classes=5, ch=ch, img_size=size))
    with torch.no_grad():  # every weight, norm statistic and affine norm parameter away from its initial value
        for p in g.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.3, 3)
    frozen = FrozenGenerator(g, (0.5,) * 3, (0.5,) * 3).stored_as(storage)
    z, y = torch.randn(6, 128, requires_grad=True), torch.tensor([0, 1, 2, 3, 4, 0])
    plain = frozen.net(z, y)  # the stored weights through the unfolded network
    folded = frozen.folded(z, y)
    assert plain.shape == (6, 3, size, size)
    assert (folded - plain).abs().max() < 1e-5 and folded.is_contiguous()  # the usual layout for what follows
    weights = torch.randn_like(plain)
    (grad_plain,) = torch.autograd.grad((plain * weights).sum(), z)
    (grad_folded,) = torch.autograd.grad((folded * weights).sum(), z)
    assert (grad_folded - grad_plain).abs().max() < 1e-5 * max(1.0, grad_plain.abs().max().item())
    assert torch.allclose(frozen.generate(z.detach(), y), ((plain.detach() + 1) / 2 - 0.5) / 0.5, atol=1e-4)


def test_upsampling_kernels_equal_a_conv_after_nearest_upsampling():
    from itgan_replay.gan.folded import upsampling_kernels
    w, x = torch.randn(3, 2, 3, 3, dtype=torch.float64), torch.randn(1, 2, 5, 4, dtype=torch.float64)
    reference = torch.nn.functional.conv2d(torch.nn.functional.interpolate(x, scale_factor=2), w, padding=1)
    transposed = torch.nn.functional.conv_transpose2d(x, upsampling_kernels(w), stride=2, padding=1)
    assert transposed.shape == reference.shape and torch.allclose(transposed, reference)


def test_finer_blocks_are_narrower_and_the_32_pixel_architecture_is_unchanged():
    assert GeneratorConfig(10, ch=8).block_widths == [32, 32, 32]  # the shipped CIFAR generators' widths
    assert GeneratorConfig(10, ch=8, img_size=64).block_widths == [32, 32, 32, 16]
    assert GeneratorConfig(10, ch=8, img_size=128).block_widths == [32, 32, 32, 16, 8]
    g = Generator(GeneratorConfig(3, ch=8, img_size=64))
    assert [b.conv2.out_channels for b in g.blocks] == [32, 32, 32, 16] and g.out_conv.in_channels == 16
    with pytest.raises(ValueError, match="img_size 48 must be bottom_width 4 times a power of 2"):
        GeneratorConfig(3, img_size=48)
