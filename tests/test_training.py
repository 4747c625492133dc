"""helpers.training: MyMLP, and train_manual_update == train with torch.optim.SGD, bit for bit."""
import math

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
