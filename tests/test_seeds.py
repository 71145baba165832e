import math

import pytest

from itgan_replay.seeds import over_seeds


def test_over_seeds_against_hand_computed_values():
    summary = over_seeds([0.5, 0.7, 0.9])
    assert summary["per_seed"] == [0.5, 0.7, 0.9]
    assert math.isclose(summary["mean"], 0.7)
    assert math.isclose(summary["std"], 0.2)  # sample std: sqrt((0.04 + 0 + 0.04) / 2)


def test_over_seeds_of_one_value_has_no_spread_and_of_none_raises():
    assert over_seeds((0.25,)) == {"per_seed": [0.25], "mean": 0.25, "std": 0.0}
    with pytest.raises(ValueError, match="at least one"):
        over_seeds([])
