"""helpers.experiments.dream_ladder: the ladder ends at gradient_descent's defaults; the summary reads its numbers."""
import torch

from helpers.dream import DEFAULT_OPTIONS, PLAIN_OPTIONS
from helpers.experiments.dream_ladder import improvement_ladder, observations


def test_the_ladder_starts_plain_and_ends_at_the_defaults():
    rungs = improvement_ladder(plain_lr=0.1)
    assert rungs[0] == ("plain", {**PLAIN_OPTIONS, "lr": 0.1})
    options = {}
    for _, change in rungs:
        assert len(change) <= len(PLAIN_OPTIONS) + 1
        options = {**options, **change}
    assert {key: options.get(key, DEFAULT_OPTIONS[key]) for key in DEFAULT_OPTIONS} == DEFAULT_OPTIONS
    assert len({name for name, _ in rungs}) == len(rungs) == 8


def test_observations_compare_the_first_and_last_rung_and_the_attack():
    text = observations(torch.tensor([0.99, 0.5, 1.0]), torch.tensor([0.97, 0.4, 0.999]),
                        torch.tensor([0.812, 0.3, 0.123]), (0.93, 0.12), torch.tensor([0.9, 1.0]),
                        torch.tensor([0.8, 0.95]), 0.8676)
    assert "p(cat) = 0.9900 with a noisy mosaic (roughness 0.812)" in text
    assert "p(cat) = 1.0000 and the roughness falls to 0.123" in text
    assert "is 0.9700 for the plain dream and 0.9990 for the default one" in text
    assert "only 0.1200 for an airplane photo pushed to p(cat) = 0.9300" in text
    assert "p ≥ 0.9000 and robustness ≥ 0.8000" in text and "test accuracy 0.8676" in text
