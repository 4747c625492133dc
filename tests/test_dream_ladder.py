"""helpers.experiments.dream_ladder: the ladder ends at gradient_descent's defaults; the scores have known
answers on constant networks; the summary reads its numbers."""
import math

import torch
import torch.nn as nn

from helpers.dream import DEFAULT_OPTIONS, PLAIN_OPTIONS
from helpers.experiments.dream_ladder import improvement_ladder, ladder_scores, observations


def test_the_ladder_starts_plain_and_ends_at_the_defaults():
    rungs = improvement_ladder(plain_lr=0.1)
    assert rungs[0] == ("plain", {**PLAIN_OPTIONS, "lr": 0.1})
    options = {}
    for _, change in rungs:
        assert len(change) <= len(PLAIN_OPTIONS) + 1
        options = {**options, **change}
    assert {key: options.get(key, DEFAULT_OPTIONS[key]) for key in DEFAULT_OPTIONS} == DEFAULT_OPTIONS
    assert len({name for name, _ in rungs}) == len(rungs) == 8


class ConstantLogits(nn.Module):
    """The same logits for every image: every score has a closed form."""
    mean, std = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)

    def __init__(self, logits):
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))

    def forward(self, x):
        return self.logits.expand(x.shape[0], -1)


def test_ladder_scores_on_networks_with_known_answers():
    model = ConstantLogits([0.0, math.log(3.0), 2.0])  # softmax = (1, 3, e²) / (4 + e²)
    second = ConstantLogits([math.log(9.0), 0.0, 0.0])  # softmax = (9, 1, 1) / 11: it never sees class 1
    images = torch.stack([torch.full((3, 4, 4), 0.5), torch.zeros(3, 4, 4).index_fill_(2, torch.tensor([1, 3]), 1.0)])
    scores = ladder_scores(images, model, second, [1, 2])
    total = 4 + math.e ** 2
    torch.testing.assert_close(scores["p"], torch.tensor([3 / total, math.e ** 2 / total]))
    torch.testing.assert_close(scores["margin"], torch.tensor([math.log(3.0) - 2.0, 2.0 - math.log(3.0)]))
    torch.testing.assert_close(scores["transfer_p"], torch.tensor([1 / 11, 1 / 11]))
    torch.testing.assert_close(scores["transfer_margin"], torch.tensor([-math.log(9.0)] * 2))
    # a flat image has no roughness; vertical stripes of width 1 change by 1 at every step to the right
    torch.testing.assert_close(scores["roughness"], torch.tensor([0.0, 1.0]))


def test_observations_read_the_numbers_of_the_rungs_the_attack_and_the_classes():
    rungs = ["plain", "+ blur", "+ octaves"]
    scores = {"p": torch.tensor([0.99, 1.0, 1.0]), "margin": torch.tensor([30.0, 41.5, 25.25]),
              "transfer_p": torch.tensor([0.25, 0.875, 0.5]), "transfer_margin": torch.tensor([-1.5, 2.25, 0.5]),
              "roughness": torch.tensor([0.812, 0.3, 0.123])}
    classes = {"p": torch.tensor([0.9, 1.0]), "transfer_p": torch.tensor([0.5, 1.0])}
    text = observations(rungs, scores, (0.93, 0.12, 0.0625), classes, (0.8676, 0.6942))
    assert "p(cat) ≥ 0.9900, logit margins 25.2 to 41.5" in text
    assert "test accuracy 0.6942 against 0.8676" in text
    assert "the plain dream (roughness 0.812) p(cat) = 0.2500 (margin -1.50)" in text
    assert "the rung '+ blur' p(cat) = 0.8750 (margin +2.25, roughness 0.300)" in text
    assert "the defaults p(cat) = 0.5000 (roughness 0.123)" in text
    assert "p(cat) = 0.9300 in 8 small steps has robustness 0.1200 and fools the second network to p(cat) = 0.0625" in text
    assert "p ≥ 0.9000 on the CNN and p ≥ 0.5000 (mean 0.7500) on the second network" in text
