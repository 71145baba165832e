import pytest
import torch
import torch.nn.functional as F

from itgan_replay.condensation.nets import (AvgPool2x2, ConvNet, Conv2d, EmbeddingSampler, InstanceNorm, ResNet18, build_net,
                                           input_grads_in)


def norms():
    """An InstanceNorm and the nn.GroupNorm it stands for, with the same non-trivial scale and shift."""
    g = torch.Generator().manual_seed(0)
    stock = torch.nn.GroupNorm(6, 6)
    with torch.no_grad():
        stock.weight.copy_(torch.randn(6, generator=g))
        stock.bias.copy_(torch.randn(6, generator=g))
    ours = InstanceNorm(6)
    ours.load_state_dict(stock.state_dict())
    return ours, stock


def frozen_against_float64(x, upstream):
    """The frozen InstanceNorm's output and input gradient on ``x``, and nn.GroupNorm's in float64."""
    ours, stock = norms()
    ours.requires_grad_(False)
    reference = x.double().requires_grad_(True)
    expected = stock.double()(reference)
    expected.backward(upstream.double())
    mine = x.clone().requires_grad_(True)
    out = ours(mine)
    out.backward(upstream)
    return out, mine, expected, reference


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_frozen_instance_norm_computes_group_norm_and_its_input_gradient(memory_format):
    g = torch.Generator().manual_seed(1)
    x = (torch.randn(5, 6, 8, 8, generator=g) * 2 + 3).contiguous(memory_format=memory_format)  # mean 3: not centred
    upstream = torch.randn(5, 6, 8, 8, generator=g)
    out, mine, expected, reference = frozen_against_float64(x, upstream)
    assert torch.allclose(out.double(), expected, atol=1e-5)
    assert torch.allclose(mine.grad.double(), reference.grad, atol=1e-5 * reference.grad.abs().max().item())
    assert not torch.allclose(mine.grad, upstream, atol=1e-2)  # the normalisation's gradient is not the identity


def test_frozen_instance_norm_keeps_bfloat16_inputs_in_bfloat16_with_float32_statistics():
    g = torch.Generator().manual_seed(3)
    x = (torch.randn(4, 6, 8, 8, generator=g) + 40).bfloat16()  # mean 40, std 1: E[x^2] - E[x]^2 in bf16 would lose it
    upstream = torch.randn(4, 6, 8, 8, generator=g).bfloat16()
    out, mine, expected, reference = frozen_against_float64(x, upstream)
    assert out.dtype == mine.grad.dtype == torch.bfloat16
    assert (out.double() - expected).abs().max() < 0.05 * expected.abs().max()
    assert (mine.grad.double() - reference.grad).abs().max() < 0.05 * reference.grad.abs().max()


def test_trainable_instance_norm_is_group_norm_with_parameter_gradients():
    ours, stock = norms()
    x = torch.randn(3, 6, 4, 4, generator=torch.Generator().manual_seed(2))
    ours(x).square().sum().backward()
    stock(x).square().sum().backward()
    assert torch.allclose(ours.weight.grad, stock.weight.grad) and torch.allclose(ours.bias.grad, stock.bias.grad)


def test_frozen_instance_norm_refuses_second_derivatives():
    ours, _ = norms()
    ours.requires_grad_(False)
    x = torch.randn(2, 6, 4, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(ours(x).square().sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad.sum().backward()


def test_sampled_nets_are_frozen_and_channels_last():
    net = EmbeddingSampler("convnet", 4, width=8)(torch.Generator().manual_seed(0))
    assert not any(p.requires_grad for p in net.parameters())
    assert net.features[0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = ConvNet(4, width=8)
    plain.load_state_dict(net.state_dict())
    x = torch.randn(3, 3, 32, 32)
    assert torch.allclose(net.embed(x), plain.embed(x), atol=1e-5)


def conv_input_grad(conv, x, upstream):
    x = x.clone().requires_grad_(True)
    conv(x).backward(upstream)
    return x.grad


@pytest.mark.parametrize("stride, kernel, padding", [(1, 3, 1), (2, 3, 1), (2, 1, 0)])
def test_bfloat16_input_gradients_are_the_float32_ones_rounded(stride, kernel, padding):
    g = torch.Generator().manual_seed(4)
    conv = Conv2d(5, 7, kernel, stride, padding).requires_grad_(False)
    x = torch.randn(3, 5, 9, 9, generator=g)  # odd side: stride 2 must recover the input's size
    upstream = torch.randn_like(conv(x), memory_format=torch.contiguous_format)
    exact = conv_input_grad(conv, x, upstream)
    with input_grads_in(conv, torch.bfloat16):
        low = conv_input_grad(conv, x, upstream)
        assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias, stride, padding))  # the forward stays float32
    assert low.dtype == torch.float32 and low.shape == x.shape
    relative = ((low - exact).norm() / exact.norm()).item()
    assert 1e-4 < relative < 2e-2  # rounded operands, float32 sums
    assert torch.equal(conv_input_grad(conv, x, upstream), exact)  # the setting ends with the block


def test_input_gradient_precision_applies_to_frozen_convs_with_input_gradients_only():
    conv = Conv2d(2, 3, 3, padding=1)  # trainable: weight gradients as usual
    x = torch.randn(2, 2, 6, 6)
    with input_grads_in(conv, torch.bfloat16):
        conv(x).sum().backward()
        assert conv.weight.grad is not None
        conv.requires_grad_(False)
        assert torch.equal(conv(x), F.conv2d(x, conv.weight, conv.bias, padding=1))  # no input gradient wanted


def test_input_gradient_precision_refuses_nets_it_cannot_set():
    with pytest.raises(ValueError, match="no itgan_replay.condensation.nets.Conv2d"):
        with input_grads_in(torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3)), torch.bfloat16):
            pass
    with pytest.raises(ValueError, match="plain convolutions"):
        with input_grads_in(Conv2d(4, 4, 3, groups=2), torch.bfloat16):
            pass
    with input_grads_in(torch.nn.Linear(2, 2), None):  # None changes nothing, on any net
        pass
    assert all(c.input_grad_dtype is None for c in ResNet18(3, width=4).modules() if isinstance(c, Conv2d))


def test_avg_pool_as_reshape_and_mean_equals_avg_pool(monkeypatch):
    x = torch.randn(2, 3, 8, 6).contiguous(memory_format=torch.channels_last)
    odd = torch.randn(2, 3, 7, 7)
    monkeypatch.setattr(torch.compiler, "is_compiling", lambda: True)  # the form torch.compile sees
    assert torch.allclose(AvgPool2x2()(x), F.avg_pool2d(x, 2), atol=1e-6)
    assert torch.equal(AvgPool2x2()(odd), F.avg_pool2d(odd, 2))  # odd sides: floor, as nn.AvgPool2d


def test_convnet_depth_follows_the_image_size_and_condensation_refuses_nets_of_another_size():
    from conftest import tiny_generator
    from itgan_replay.condensation.condense import Condenser
    from itgan_replay.condensation.nets import convnet_depth

    assert [convnet_depth(s) for s in (8, 16, 32, 64, 128)] == [1, 2, 3, 4, 5]  # DC/DM: depth 3 at 32 px, 4 at 64
    for bad in (4, 48, 100):
        with pytest.raises(ValueError, match="4 times a power of 2"):
            convnet_depth(bad)
    net = build_net("convnet", 3, 8, image_size=64)
    assert len(net.features) == 4 * 4 and net.feature_dim == 8 * 4 * 4 and net(torch.zeros(2, 3, 64, 64)).shape == (2, 3)
    with pytest.raises(ValueError, match="the embedding nets take 32-pixel images, the generator makes 64-pixel ones"):
        Condenser(tiny_generator(img_size=64), EmbeddingSampler("convnet", 4, width=8))
    condenser = Condenser(tiny_generator(img_size=64), EmbeddingSampler("convnet", 4, width=8, image_size=64))
    assert condenser.augment.image_size == 64  # DSA's shifts and cutouts drawn for 64-pixel images
