import pytest
import torch

from itgan_replay.memory.codecs import CODECS, AffineIntCodec


def test_int8_codes_are_the_hand_computed_affine_rounding():
    z = torch.tensor([[-1.0, 0.0, 0.5, 1.55]])
    stored = CODECS["int8"].encode(z)
    assert stored["offset"].dtype == stored["scale"].dtype == torch.float16 and stored["codes"].dtype == torch.uint8
    scale = torch.tensor(2.55 / 255).half().float()  # (max - min) / 255, stored in float16
    assert stored["scale"].float().item() == scale.item()
    expected = ((z + 1) / scale).round().clamp(0, 255)
    assert stored["codes"].tolist() == expected.to(torch.uint8).tolist()
    assert torch.equal(CODECS["int8"].decode(stored), expected * scale - 1)


def test_int4_packs_two_codes_a_byte_low_nibble_first():
    z = torch.tensor([[0.0, 15.0, 3.0, 7.0]])  # offset 0, scale 1: the codes are the values
    stored = CODECS["int4"].encode(z)
    assert stored["codes"].tolist() == [[0 | 15 << 4, 3 | 7 << 4]]
    assert torch.equal(CODECS["int4"].decode(stored), z)
    with pytest.raises(ValueError, match="z_dim must be even"):
        CODECS["int4"].encode(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="bits must be 4 or 8"):
        AffineIntCodec("int2", 2)


@pytest.mark.parametrize("name, bound", [("float32", 0.0), ("float16", 2e-3), ("int8", 0.03), ("int4", 0.5)])
def test_round_trip_error_is_within_half_a_step(name, bound):
    z = torch.randn(64, 128, generator=torch.Generator().manual_seed(0)) * 1.5
    error = (CODECS[name].round_trip(z) - z).abs()
    assert error.max() <= bound + 1e-6
    if name.startswith("int"):
        stored = CODECS[name].encode(z)
        step = stored["scale"].float()[:, None]
        assert (error <= step / 2 + 0.01).all()  # half a step, plus float16 rounding of scale and offset


def test_constant_latent_round_trips_exactly():
    z = torch.full((2, 8), 0.25)
    for name in ("int8", "int4"):
        assert torch.equal(CODECS[name].round_trip(z), z)


def test_straight_through_gives_stored_values_forward_and_identity_gradient():
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1), requires_grad=True)
    out = CODECS["int4"].straight_through(z)
    assert torch.equal(out, CODECS["int4"].round_trip(z.detach()))
    (out * torch.arange(8.0)).sum().backward()
    assert torch.equal(z.grad, torch.arange(8.0).expand(3, 8))
