import pytest
import torch

from itgan_replay.nets import ConvNet, EmbeddingSampler, InstanceNorm


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
