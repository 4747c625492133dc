"""helpers.training: MyMLP, and train_manual_update == train with torch.optim.SGD, bit for bit; what the two loops
refuse (a foreign optimizer, nonsense settings, a NaN step), checked once at their entry."""
import math

import numpy as np

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from helpers.data.catcar import BatchLoader
from helpers.training import (MyMLP, accuracy, compare_with_torch_sgd, cosine_schedule, default_dtype, logits,
                              predict, sgd_step, torch_threads, train, train_manual_update)

N_SAMPLES, BATCH_SIZE, N_EPOCHS = 80, 16, 3


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny matrices: one thread is fastest, and threads that wait on each other crawl on a busy machine."""
    with torch_threads(1):
        yield


def random_data(dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(N_SAMPLES, 3, 16, 16, generator=generator).to(dtype)
    labels = torch.randint(0, 2, (N_SAMPLES,), generator=generator)
    return images, labels


def seeded_loader(kind, images, labels):
    """A fresh loader; two built with the same arguments give the same batches in the same order."""
    if kind == "dataloader":
        return DataLoader(TensorDataset(images, labels), batch_size=BATCH_SIZE, shuffle=True,
                          generator=torch.Generator().manual_seed(7))
    if kind == "augmenting":
        return BatchLoader(images, labels, BATCH_SIZE, augment=True, seed=7)
    return DataLoader(TensorDataset(images, labels), batch_size=BATCH_SIZE, shuffle=False)


def fresh_model(dtype, seed=3):
    torch.manual_seed(seed)  # a seed right before each model: identical initial parameters
    return MyMLP().to(dtype)


def run_both(dtype, kind="dataloader", lr=0.05, momentum=0.0, weight_decay=0.0, **extras):
    """Train twice from the same start: torch.optim.SGD and the manual update. Returns both runs."""
    images, labels = random_data(dtype)
    reference = fresh_model(dtype)
    optimizer = torch.optim.SGD(reference.parameters(), lr=lr, momentum=momentum,
                                weight_decay=weight_decay, **extras)
    reference_losses = train(N_EPOCHS, optimizer, reference, nn.CrossEntropyLoss(),
                             seeded_loader(kind, images, labels))
    manual = fresh_model(dtype)
    manual_losses = train_manual_update(N_EPOCHS, lr, manual, nn.CrossEntropyLoss(),
                                        seeded_loader(kind, images, labels), momentum, weight_decay, **extras)
    return (reference, reference_losses), (manual, manual_losses)


def assert_bitwise_equal(reference, manual):
    (model_a, losses_a), (model_b, losses_b) = reference, manual
    assert losses_a == losses_b
    for (name, a), b in zip(model_a.named_parameters(), model_b.parameters()):
        assert torch.equal(a, b), f"{name} differs by {(a - b).abs().max().item():.3e}"


SETTINGS = [
    dict(lr=0.05),
    dict(lr=0.1, weight_decay=0.01),
    dict(lr=0.02, momentum=0.9),
    dict(lr=0.03, momentum=0.5, weight_decay=0.3),
    dict(lr=0.01, momentum=0.9, weight_decay=1e-3, dampening=0.2),
    dict(lr=0.01, momentum=0.8, weight_decay=1e-2, nesterov=True),
]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
def test_manual_update_equals_torch_sgd_bit_for_bit(dtype, settings):
    reference, manual = run_both(dtype, **settings)
    assert_bitwise_equal(reference, manual)
    start = fresh_model(dtype)
    assert not torch.equal(start.fc1.weight, manual[0].fc1.weight), "training did not move the parameters"


@pytest.mark.parametrize("kind", ["in order", "augmenting"])
def test_equality_holds_with_other_loaders(kind):
    assert_bitwise_equal(*run_both(torch.float64, kind, lr=0.02, momentum=0.9, weight_decay=1e-2))


def test_the_equality_check_notices_a_one_ulp_change():
    """The comparison is sharp enough to see a learning rate one float64 step away."""
    lr = 0.05
    reference, _ = run_both(torch.float64, lr=lr, momentum=0.9)
    _, nudged = run_both(torch.float64, lr=math.nextafter(lr, 1.0), momentum=0.9)
    assert any(not torch.equal(a, b) for a, b in zip(reference[0].parameters(), nudged[0].parameters()))


def test_lr_schedule_matches_lambda_lr_stepped_each_epoch():
    images, labels = random_data(torch.float64)
    schedule = lambda epoch: 0.5 ** epoch  # noqa: E731
    reference = fresh_model(torch.float64)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    reference_losses = train(N_EPOCHS, optimizer, reference, nn.CrossEntropyLoss(),
                             seeded_loader("dataloader", images, labels),
                             callback=lambda epoch, model, loss: scheduler.step())
    manual = fresh_model(torch.float64)
    manual_losses = train_manual_update(N_EPOCHS, 0.1, manual, nn.CrossEntropyLoss(),
                                        seeded_loader("dataloader", images, labels), 0.9, 1e-3,
                                        lr_schedule=schedule)
    assert_bitwise_equal((reference, reference_losses), (manual, manual_losses))


def test_sgd_step_follows_the_documented_rule_by_hand():
    """Two steps worked out on paper: g = ∇ + λθ; b₁ = g₁; b₂ = μb₁ + (1-τ)g₂; θ ← θ - ηb."""
    p = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    buffers = [None]
    lr, momentum, weight_decay, dampening = 0.1, 0.9, 0.1, 0.5
    gradient = torch.tensor([0.5, -1.0], dtype=torch.float64)
    p.grad = gradient.clone()
    sgd_step([p], buffers, lr, momentum, weight_decay, dampening)
    # g₁ = [0.6, -0.8] = b₁ (no dampening at the first step); θ₁ = θ₀ - 0.1 b₁
    assert torch.allclose(p.detach(), torch.tensor([0.94, 2.08], dtype=torch.float64), rtol=0, atol=1e-15)
    assert p.grad is None, "the gradient is cleared after the step"
    p.grad = gradient.clone()
    sgd_step([p], buffers, lr, momentum, weight_decay, dampening)
    # g₂ = [0.5 + 0.094, -1 + 0.208]; b₂ = 0.9 b₁ + 0.5 g₂ = [0.837, -1.116]; θ₂ = θ₁ - 0.1 b₂
    assert torch.allclose(buffers[0], torch.tensor([0.837, -1.116], dtype=torch.float64), rtol=0, atol=1e-15)
    assert torch.allclose(p.detach(), torch.tensor([0.8563, 2.1916], dtype=torch.float64), rtol=0, atol=1e-15)


def test_returns_the_mean_batch_loss_of_each_epoch():
    images, labels = random_data(torch.float64)
    model = fresh_model(torch.float64)
    loader = seeded_loader("in order", images, labels)
    with torch.no_grad():
        expected = sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader) / len(loader)
    losses = train_manual_update(2, 0.0, model, nn.CrossEntropyLoss(), loader)  # lr 0: nothing moves
    assert losses == pytest.approx([expected, expected], rel=1e-14)


def test_callback_sees_every_epoch_and_grads_are_cleared():
    images, labels = random_data()
    model = fresh_model(torch.float32)
    seen = []
    losses = train_manual_update(N_EPOCHS, 0.05, model, nn.CrossEntropyLoss(),
                                 seeded_loader("dataloader", images, labels), 0.9,
                                 callback=lambda epoch, m, loss: seen.append((epoch, m is model, loss)))
    assert seen == [(e, True, loss) for e, loss in enumerate(losses)]
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("trainer", ["torch", "manual"])
def test_divergence_is_reported(trainer):
    images, labels = random_data()
    images[5] = float("nan")
    model = fresh_model(torch.float32)
    loader = seeded_loader("in order", images, labels)
    with pytest.raises(FloatingPointError, match="diverged.*epoch 1, batch 1"):
        if trainer == "torch":
            train(1, torch.optim.SGD(model.parameters(), lr=0.1), model, nn.CrossEntropyLoss(), loader)
        else:
            train_manual_update(1, 0.1, model, nn.CrossEntropyLoss(), loader)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_epochs=0), "n_epochs must be a positive int"),
    (dict(lr=-0.1), "lr must be a finite number >= 0"),
    (dict(momentum=float("nan")), "momentum must be a finite number"),
    (dict(weight_decay=-1.0), "weight_decay must be a finite number >= 0"),
    (dict(nesterov=True), "Nesterov momentum needs momentum > 0"),
])
def test_bad_hyperparameters_get_clear_errors(kwargs, message):
    images, labels = random_data()
    arguments = dict(n_epochs=1, lr=0.1, model=fresh_model(torch.float32), loss_fn=nn.CrossEntropyLoss(),
                     train_loader=seeded_loader("in order", images, labels)) | kwargs
    with pytest.raises(ValueError, match=message):
        train_manual_update(**arguments)


def test_an_empty_loader_is_an_error():
    with pytest.raises(ValueError, match="no batches"):
        train_manual_update(1, 0.1, fresh_model(torch.float32), nn.CrossEntropyLoss(), [])


def test_mymlp_architecture_and_forward():
    model = fresh_model(torch.float64)
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(128, 768), (128,), (32, 128), (32,), (2, 32), (2,)]
    x = torch.randn(5, 3, 16, 16, dtype=torch.float64)
    hidden = torch.relu(x.flatten(1) @ model.fc1.weight.T + model.fc1.bias)
    hidden = torch.relu(hidden @ model.fc2.weight.T + model.fc2.bias)
    expected = hidden @ model.fc3.weight.T + model.fc3.bias  # no final activation: logits
    assert torch.allclose(model(x), expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(model(x), model(x.flatten(1)))
    with pytest.raises(ValueError, match="expects 768 input features"):
        model(torch.zeros(2, 3, 32, 32, dtype=torch.float64))


def test_predict_and_accuracy():
    images, labels = random_data()
    model = fresh_model(torch.float32)
    with torch.no_grad():
        outputs = model(images)
    plain = outputs.argmax(1)
    assert torch.equal(logits(model, images), outputs)
    assert torch.allclose(logits(model, images, batch_size=7), outputs, rtol=1e-5, atol=1e-6)  # chunked
    assert torch.equal(predict(model, images), plain)
    assert accuracy(model, images, labels) == pytest.approx((plain == labels).double().mean().item())
    assert accuracy(model, images, plain) == 1.0


def test_cosine_schedule_falls_from_one_towards_zero():
    factors = [cosine_schedule(4)(epoch) for epoch in range(4)]
    assert factors == pytest.approx([1.0, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2], abs=1e-15)


def test_default_dtype_is_restored():
    before = torch.get_default_dtype()
    with default_dtype(torch.float64):
        assert MyMLP().fc1.weight.dtype == torch.float64
    assert torch.get_default_dtype() == before


def test_compare_with_torch_sgd_reports_equality_and_notices_different_batches():
    images, labels = random_data(torch.float64)
    same = compare_with_torch_sgd(lambda: fresh_model(torch.float64),
                                  lambda: seeded_loader("dataloader", images, labels), 2, lr=0.05, momentum=0.9)
    assert same.identical and same.max_abs_difference == 0.0 and len(same.torch_losses) == 2
    unseeded = iter([7, 8])  # a different shuffle for each run: the comparison must say so
    differ = compare_with_torch_sgd(lambda: fresh_model(torch.float64),
                                    lambda: BatchLoader(images, labels, BATCH_SIZE, seed=next(unseeded)), 2, lr=0.05)
    assert not differ.identical and differ.max_abs_difference > 0


# == what the loops refuse =========================================================================

N_SAMPLES, BATCH_SIZE = 48, 16


def fresh_double_model(seed=3):
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
    model, other = fresh_double_model(), fresh_double_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match="optimizer updates none of the model's parameters.*model.parameters()"):
        train(1, torch.optim.SGD(other.parameters(), lr=0.1), model, nn.CrossEntropyLoss(), loader())
    assert_parameters_equal(model, before)


def test_an_optimizer_over_part_of_the_model_names_what_it_misses():
    model = fresh_double_model()
    optimizer = torch.optim.SGD(model.fc1.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=r"4 of the model's 6 trainable parameters \(missing: fc2.weight, fc2.bias, "
                                         r"fc3.weight, fc3.bias\)"):
        train(1, optimizer, model, nn.CrossEntropyLoss(), loader())


def test_frozen_parameters_may_be_left_out_of_the_optimizer():
    model = fresh_double_model()
    model.fc1.requires_grad_(False)
    frozen, start = model.fc1.weight.detach().clone(), model.fc3.weight.detach().clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    losses = train(2, optimizer, model, nn.CrossEntropyLoss(), loader())
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert torch.equal(model.fc1.weight, frozen) and not torch.equal(model.fc3.weight, start)


def test_an_optimizer_holding_more_than_the_model_is_fine():
    """e.g. a loss with a learnable parameter of its own, trained with the model"""
    model, extra = fresh_double_model(), torch.zeros(3, dtype=torch.float64, requires_grad=True)
    start = model.fc1.weight.detach().clone()
    train(1, torch.optim.SGD([*model.parameters(), extra], lr=0.1), model, nn.CrossEntropyLoss(), loader())
    assert not torch.equal(model.fc1.weight, start)


@pytest.mark.parametrize("optimizer", [None, "sgd", torch.optim.SGD])
def test_an_optimizer_that_is_not_one_is_refused(optimizer):
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer"):
        train(1, optimizer, fresh_double_model(), nn.CrossEntropyLoss(), loader())


@pytest.mark.parametrize("trainer", [train, train_manual_update])
def test_a_model_without_trainable_parameters_is_refused(trainer):
    model = fresh_double_model().requires_grad_(False) if trainer is train else nn.ReLU()
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    arguments = (optimizer, model) if trainer is train else (0.1, model)
    with pytest.raises(ValueError, match="model has no (trainable )?parameters"):
        trainer(1, *arguments, nn.CrossEntropyLoss(), loader())


# --- item 2: a non-finite loss stops before the update -------------------------------------------------------

@pytest.mark.parametrize("trainer", ["torch", "manual"])
def test_a_nan_loss_leaves_the_parameters_as_they_were_before_that_step(trainer):
    """Batch 1 trains; batch 2 holds a NaN image: its loss is NaN and its update must not happen."""
    model = fresh_double_model()
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
    return train_manual_update(1, lr, fresh_double_model(), nn.CrossEntropyLoss(), loader(), momentum, weight_decay,
                               **options)


@pytest.mark.parametrize("settings", TORCH_REFUSES, ids=str)
def test_what_torch_sgd_refuses_is_refused(settings):
    full = dict(lr=0.1) | settings
    with pytest.raises(ValueError):
        torch.optim.SGD(fresh_double_model().parameters(), **full)
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
    model = fresh_double_model()
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
    after_one_epoch = fresh_double_model()
    train_manual_update(1, 0.1, after_one_epoch, nn.CrossEntropyLoss(), loader(), 0.9)
    model = fresh_double_model()
    with pytest.raises(ValueError, match=r"lr_schedule\(1\) must return a finite number >= 0 "
                                         r"\(the lr factor of epoch 2\)"):
        train_manual_update(3, 0.1, model, nn.CrossEntropyLoss(), loader(), 0.9,
                            lr_schedule=lambda epoch: 1.0 if epoch == 0 else factor)
    assert_parameters_equal(model, snapshot(after_one_epoch))
    assert all(p.grad is None for p in model.parameters())


def test_the_schedule_is_asked_once_per_epoch_in_order():
    calls = []
    train_manual_update(3, 0.1, fresh_double_model(), nn.CrossEntropyLoss(), loader(),
                        lr_schedule=lambda epoch: calls.append(epoch) or 0.5)
    assert calls == [0, 1, 2]


def test_an_lr_schedule_that_is_not_a_function_is_refused():
    with pytest.raises(ValueError, match="lr_schedule must be a function"):
        run_manual(lr_schedule=0.5)
