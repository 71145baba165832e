import pytest
import torch
from avalanche.training.plugins import EvaluationPlugin
from avalanche.training.supervised import Naive
from torchvision.io import decode_jpeg, encode_jpeg

from itgan_replay.condensation.nets import ConvNet
from itgan_replay.memory.jpeg import JPEGCodec, fill_share, split_jpeg
from itgan_replay.memory.latent import BudgetError
from strategies import BufferReplayPlugin
from strategies.jpeg_buffer import JPEGClassBalancedBuffer
from test_plugin import Spy, tiny_benchmark

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)  # ImageTensors' defaults, which tiny_benchmark uses


def photos(n=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(torch.rand(n, 3, 8, 8, generator=g), size=32, mode="bilinear")
    return (smooth * 255).to(torch.uint8)


def test_codec_stores_the_header_once_and_rebuilds_encode_jpegs_file_bit_for_bit():
    codec, x = JPEGCodec(60), photos()
    scans = codec.encode(x)
    for image, scan, reference in zip(x, scans, encode_jpeg(list(x), quality=60)):
        assert codec.jpeg_file(scan) == reference.numpy().tobytes()
        assert len(codec.header) + len(scan) + 2 == reference.numel()
        assert torch.equal(codec.decode(scan), decode_jpeg(reference))
    assert split_jpeg(codec.jpeg_file(scans[0])) == (codec.header, scans[0])
    with pytest.raises(ValueError, match="uint8 images"):
        codec.encode(x.float())
    with pytest.raises(ValueError, match="quality"):
        JPEGCodec(0)
    with pytest.raises(ValueError, match="not a baseline JPEG"):
        split_jpeg(b"\x89PNG....")


def test_fill_share_counts_the_prefix_that_fits():
    assert fill_share([3, 4, 5], 7) == 2 and fill_share([3, 4, 5], 6) == 1 and fill_share([8], 7) == 0
    assert fill_share([1, 1], 100) == 2


def run_stream(policy):
    spy = Spy()
    strategy = Naive(model=ConvNet(4, width=8), optimizer=None, criterion=torch.nn.CrossEntropyLoss(), train_mb_size=8,
                     train_epochs=1, plugins=[BufferReplayPlugin(policy.max_size, storage_policy=policy), spy],
                     evaluator=EvaluationPlugin(loggers=[]))
    strategy.optimizer = torch.optim.SGD(strategy.model.parameters(), lr=0.01)
    for exp in tiny_benchmark().train_stream:
        strategy.train(exp)
    return spy


def test_counted_bytes_are_the_bytes_held_within_budget_and_replayed_with_the_stock_plugin():
    data = tiny_benchmark().train_stream[0].dataset  # classes 2 and 0
    codec, expected = JPEGCodec(75), {}
    for c in (0, 2):  # what each class should keep: its photos in the seeded order, encoded
        pixels = torch.stack([((x * 0.5 + 0.5) * 255).round().to(torch.uint8) for x, y, *_ in data if y == c])
        expected[c] = codec.encode(pixels[torch.randperm(12, generator=torch.Generator().manual_seed(c))])
    share = sum(map(len, expected[0][:5])) + 1  # five of class 0's twelve fit
    budget = len(codec.header) + 4 * share + 3
    policy = JPEGClassBalancedBuffer(budget, total_num_classes=4, quality=75, mean=MEAN, std=STD)
    assert policy.share == share
    spy = run_stream(policy)
    assert spy.batch_labels[1] >= {0, 2}  # experience 1 (classes 3, 1) also trains on replayed 2 and 0
    held = [s for scans in policy.class_scans.values() for s in scans]
    assert policy.total_bytes == len(policy.codec.header) + sum(len(s) for s in held) <= budget
    assert sorted(policy.class_scans) == [0, 1, 2, 3] and len(policy.class_scans[0]) == 5
    for c, scans in expected.items():  # each class keeps the longest prefix of its order that fits its share
        k = len(policy.class_scans[c])
        assert 0 < k < 12 and policy.class_scans[c] == scans[:k]
        assert sum(map(len, scans[:k])) <= share < sum(map(len, scans[:k + 1]))
    buffer = policy.buffer
    assert len(buffer) == len(held) and sorted(set(buffer.targets)) == [0, 1, 2, 3]
    x, y = buffer[0][:2]
    assert x.shape == (3, 32, 32) and torch.equal(((x * 0.5 + 0.5) * 255).round().to(torch.uint8),
                                                  policy.codec.decode(policy.class_scans[y][0]))


def test_a_budget_without_room_for_one_image_per_class_is_a_clear_error():
    with pytest.raises(BudgetError, match="leaves nothing beside the 6"):
        JPEGClassBalancedBuffer(600, total_num_classes=4, quality=50, mean=MEAN, std=STD)
    policy = JPEGClassBalancedBuffer(623 + 4 * 40, total_num_classes=4, quality=50, mean=MEAN, std=STD)
    with pytest.raises(BudgetError, match="holds none of its JPEG images"):
        run_stream(policy)


def test_downsampled_jpeg_stores_small_scans_and_replays_full_size_images():
    from strategies.jpeg_buffer import resized

    big = resized(photos(seed=3), 64)  # smooth 64-px photos
    assert big.shape == (6, 3, 64, 64) and torch.equal(resized(big, 64), big)
    normalise = lambda x: (x.float() / 255 - 0.5) / 0.5  # noqa: E731  ImageTensors' defaults (MEAN, STD)

    class Stream:  # one experience of the six photos as class 0, as Avalanche hands it to the policy
        dataset = torch.utils.data.TensorDataset(normalise(big), torch.zeros(6, dtype=torch.long))

    policy = JPEGClassBalancedBuffer(100_000, 1, 75, MEAN, STD, image_size=64, stored_size=32)
    policy.post_adapt(None, Stream())
    small = resized(big, 32)
    assert policy.class_scans[0] == policy.codec.encode(small[torch.randperm(6, generator=torch.Generator().manual_seed(0))])
    assert policy.total_bytes == len(JPEGCodec(75, 32).header) + sum(map(len, policy.class_scans[0]))
    x, _ = policy.buffer[0][:2]
    assert x.shape == (3, 64, 64)
    expected = resized(policy.codec.decode(policy.class_scans[0][0])[None], 64)[0]  # decoded, upsampled back
    assert torch.equal(((x * 0.5 + 0.5) * 255).round().to(torch.uint8), expected)
    with pytest.raises(ValueError, match=r"stored_size must lie in \[8, image_size = 32\]"):
        JPEGClassBalancedBuffer(100_000, 1, 75, MEAN, STD, image_size=32, stored_size=64)
