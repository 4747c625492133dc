"""helpers.training refuses what would train silently wrong: a foreign optimizer, nonsense settings, a NaN step."""
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.training import MyMLP, sgd_step, torch_threads, train, train_manual_update

N_SAMPLES, BATCH_SIZE = 48, 16


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    with torch_threads(1):
        yield


def fresh_model(seed=3):
    torch.manual_seed(seed)
    return MyMLP().double()


def loader(nan_in_batch=None):
    """Three batches of 16 in order; with ``nan_in_batch`` = k (0-based), one image of batch k is NaN."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(N_SAMPLES, 3, 16, 16, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 2, (N_SAMPLES,), generator=generator)
    if nan_in_batch is not None:
        images[nan_in_batch * BATCH_SIZE + 3] = math.nan
    return DataLoader(TensorDataset(images, labels), batch_size=BATCH_SIZE, shuffle=False)


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


def assert_parameters_equal(model, expected):
    for (name, p), q in zip(model.named_parameters(), expected):
        assert torch.equal(p, q), f"{name} changed"


# --- item 2: the optimizer must be the model's --------------------------------------------------------------

def test_an_optimizer_over_another_models_parameters_is_refused():
    model, other = fresh_model(), fresh_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="optimizer updates none of the model's parameters.*model.parameters()"):
        train(1, torch.optim.SGD(other.parameters(), lr=0.1), model, nn.CrossEntropyLoss(), loader())
    assert_parameters_equal(model, before)


def test_an_optimizer_over_part_of_the_model_names_what_it_misses():
    model = fresh_model()
    optimizer = torch.optim.SGD(model.fc1.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"4 of the model's 6 trainable parameters \(missing: fc2.weight, fc2.bias, "
                                         r"fc3.weight, fc3.bias\)"):
        train(1, optimizer, model, nn.CrossEntropyLoss(), loader())


def test_frozen_parameters_may_be_left_out_of_the_optimizer():
    model = fresh_model()
    model.fc1.requires_grad_(False)
    frozen, start = model.fc1.weight.detach().clone(), model.fc3.weight.detach().clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    losses = train(2, optimizer, model, nn.CrossEntropyLoss(), loader())
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert torch.equal(model.fc1.weight, frozen) and not torch.equal(model.fc3.weight, start)


def test_an_optimizer_holding_more_than_the_model_is_fine():
    """e.g. a loss with a learnable parameter of its own, trained with the model"""
    model, extra = fresh_model(), torch.zeros(3, dtype=torch.float64, requires_grad=True)
    start = model.fc1.weight.detach().clone()
    train(1, torch.optim.SGD([*model.parameters(), extra], lr=0.1), model, nn.CrossEntropyLoss(), loader())
    assert not torch.equal(model.fc1.weight, start)


@pytest.mark.parametrize("optimizer", [None, "sgd", torch.optim.SGD])
def test_an_optimizer_that_is_not_one_is_refused(optimizer):
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        train(1, optimizer, fresh_model(), nn.CrossEntropyLoss(), loader())


@pytest.mark.parametrize("trainer", [train, train_manual_update])
def test_a_model_without_trainable_parameters_is_refused(trainer):
    model = fresh_model().requires_grad_(False) if trainer is train else nn.ReLU()
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    arguments = (optimizer, model) if trainer is train else (0.1, model)
    with pytest.raises(ValueError, match="model has no (trainable )?parameters"):
        trainer(1, *arguments, nn.CrossEntropyLoss(), loader())


# --- item 2: a non-finite loss stops before the update -------------------------------------------------------

@pytest.mark.parametrize("trainer", ["torch", "manual"])
def test_a_nan_loss_leaves_the_parameters_as_they_were_before_that_step(trainer):
    """Batch 1 trains; batch 2 holds a NaN image: its loss is NaN and its update must not happen."""
    model = fresh_model()
    start, seen = snapshot(model), []

    def loss_fn(outputs, targets):  # records the parameters each loss is computed with
        seen.append(snapshot(model))
        return nn.functional.cross_entropy(outputs, targets)

    with pytest.raises(FloatingPointError, match="diverged: loss = nan at epoch 1, batch 2"):
        if trainer == "torch":
            optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
            train(1, optimizer, model, loss_fn, loader(nan_in_batch=1))
        else:
            train_manual_update(1, 0.1, model, loss_fn, loader(nan_in_batch=1), 0.9, 1e-3)
    assert len(seen) == 2 and any(not torch.equal(a, b) for a, b in zip(seen[1], start)), "batch 1 trained"
    assert_parameters_equal(model, seen[1])  # bit for bit: the parameters that gave the NaN loss
    assert all(p.grad is None for p in model.parameters()), "no gradient of the NaN loss is left behind"


# --- item 3: settings torch.optim.SGD refuses, we refuse; and the nonsense it accepts ----------------------

TORCH_REFUSES = [dict(lr=-0.1), dict(momentum=-0.5), dict(weight_decay=-1e-3), dict(nesterov=True),
                 dict(nesterov=True, momentum=0.9, dampening=0.1)]


def run_manual(lr=0.1, momentum=0.0, weight_decay=0.0, **options):
    return train_manual_update(1, lr, fresh_model(), nn.CrossEntropyLoss(), loader(), momentum, weight_decay,
                               **options)


@pytest.mark.parametrize("settings", TORCH_REFUSES, ids=str)
def test_what_torch_sgd_refuses_is_refused(settings):
    full = dict(lr=0.1) | settings
    with pytest.raises(ValueError):
        torch.optim.SGD(fresh_model().parameters(), **full)
    with pytest.raises(ValueError, match="must be a finite number >= 0|Nesterov momentum needs momentum > 0 "
                                         "and dampening = 0"):
        run_manual(**full)


@pytest.mark.parametrize("settings, message", [
    (dict(momentum=1.0), "momentum must be < 1.*never fade"),
    (dict(momentum=1.5), "momentum must be < 1"),
    (dict(momentum=0.9, dampening=-0.5), "dampening must be a finite number >= 0"),
    (dict(momentum=0.9, dampening=1.0), "dampening must be < 1"),
    (dict(momentum=0.9, dampening=3.0), "dampening must be < 1"),
    (dict(momentum=0.9, dampening=math.nan), "dampening must be a finite number"),
    (dict(lr=True), "lr must be a finite number >= 0, got True"),
    (dict(momentum=True), "momentum must be a finite number >= 0, got True"),
    (dict(lr=math.inf), "lr must be a finite number"),
    (dict(lr=math.nan), "lr must be a finite number"),
    (dict(weight_decay=math.nan), "weight_decay must be a finite number"),
    (dict(lr="0.1"), "lr must be a finite number"),
    (dict(lr=torch.tensor(0.1)), "lr must be a finite number"),
    (dict(momentum=0.9, nesterov="yes"), "nesterov must be True or False"),
])
def test_settings_torch_accepts_but_that_make_nonsense_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        run_manual(**settings)


def test_the_refusal_comes_before_anything_moves():
    model = fresh_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="momentum must be < 1"):
        train_manual_update(1, 0.1, model, nn.CrossEntropyLoss(), loader(), momentum=1.0)
    assert_parameters_equal(model, before)


@pytest.mark.parametrize("settings", [dict(lr=0.0), dict(lr=1), dict(lr=np.float32(0.05)), dict(momentum=0.999),
                                      dict(momentum=0.9, dampening=0.5), dict(momentum=0.9, nesterov=True),
                                      dict(dampening=0.5)])
def test_sensible_edge_settings_are_accepted(settings):
    losses = run_manual(**settings)
    assert len(losses) == 1 and math.isfinite(losses[0])


def test_sgd_step_checks_nothing_per_batch_the_trainer_checked_once():
    # the settings are checked once, where train_manual_update is called (see the tests above), not per batch
    p = torch.ones(2, dtype=torch.float64, requires_grad=True)
    p.grad = torch.ones(2, dtype=torch.float64)
    sgd_step([p], [None], lr=0.5)
    assert torch.equal(p.detach(), torch.full((2,), 0.5, dtype=torch.float64)) and p.grad is None


# --- item 3: the lr schedule ------------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [-0.5, math.nan, math.inf, True, "1", None])
def test_a_bad_lr_factor_stops_at_its_epoch_with_the_model_as_the_epoch_before_left_it(factor):
    after_one_epoch = fresh_model()
    train_manual_update(1, 0.1, after_one_epoch, nn.CrossEntropyLoss(), loader(), 0.9)
    model = fresh_model()
    with pytest.raises(ValueError, match=r"lr_schedule\(1\) must return a finite number >= 0 "
                                         r"\(the lr factor of epoch 2\)"):
        train_manual_update(3, 0.1, model, nn.CrossEntropyLoss(), loader(), 0.9,
                            lr_schedule=lambda epoch: 1.0 if epoch == 0 else factor)
    assert_parameters_equal(model, snapshot(after_one_epoch))
    assert all(p.grad is None for p in model.parameters())


def test_the_schedule_is_asked_once_per_epoch_in_order():
    calls = []
    train_manual_update(3, 0.1, fresh_model(), nn.CrossEntropyLoss(), loader(),
                        lr_schedule=lambda epoch: calls.append(epoch) or 0.5)
    assert calls == [0, 1, 2]


def test_an_lr_schedule_that_is_not_a_function_is_refused():
    with pytest.raises(ValueError, match="lr_schedule must be a function"):
        run_manual(lr_schedule=0.5)
