import pickle

import torch
from avalanche.training.storage_policy import ClassBalancedBuffer

from strategies.replay import RawClassBalancedBuffer
from test_plugin import tiny_benchmark


def fill(policy, seed=0):
    torch.manual_seed(seed)  # Avalanche's reservoir draws its keep-order from the global RNG
    for exp in tiny_benchmark().train_stream:
        policy.post_adapt(None, exp)
    return policy


def test_raw_buffer_holds_avalanches_exemplars_as_its_own_uint8_copy():
    stock = fill(ClassBalancedBuffer(16, adaptive_size=False, total_num_classes=4))
    raw = fill(RawClassBalancedBuffer(16 * 3072 + 100, 3072, 4))  # 16 images fit, not 17
    assert raw.max_size == 16 and raw.total_bytes == 16 * 3072 and sorted(raw.buffer_groups) == [0, 1, 2, 3]
    for c, group in stock.buffer_groups.items():  # the same images, in the same order, as the same floats
        mine = raw.buffer_groups[c].buffer
        assert len(mine) == len(group.buffer) == 4
        for (x, y, *_), (x2, y2, *_) in zip(group.buffer, mine):
            assert y == y2 == c and torch.equal(x, x2)
    stream_bytes = 48 * 3072
    assert len(pickle.dumps(stock)) > stream_bytes  # Avalanche's subsets carry the whole stream along
    assert len(pickle.dumps(raw)) < raw.total_bytes + 20_000  # the copy holds its pixels, and little more
