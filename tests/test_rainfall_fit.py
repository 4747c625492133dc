"""helpers.experiments.rainfall_fit: batching, training with validation-based selection, divergence detection,
and the autograd twin (same losses as the hand-written MLP to 1e-10 in float64)."""
import math

import pytest
import torch

from helpers.layers import MLP
from helpers.experiments.rainfall_fit import (FitsByLearningRate, Standardizer, batches, diverged_status,
                                             epoch_order, evaluate_mse,
                                             predict_values, search, select_and_test, train_mlp, twin_losses)
from helpers.models.twins import torch_twin

F64 = torch.float64


def toy_regression(n, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=dtype) * 4 - 2
    y = torch.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 + 0.1 * torch.randn(n, generator=g, dtype=dtype)
    return x, y


def test_standardizer_centres_and_scales_the_training_columns():
    x = torch.randn(500, 2, dtype=F64) * torch.tensor([3.0, 0.5], dtype=F64) + torch.tensor([-85.0, 44.0],
                                                                                          dtype=F64)
    z = Standardizer.fit(x)(x)
    torch.testing.assert_close(z.mean(0), torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(2, dtype=F64), atol=1e-12, rtol=0)


def test_batches_visit_every_example_once_per_epoch():
    x, y = torch.arange(10.0).reshape(10, 1), torch.arange(10.0)
    order = epoch_order(10, torch.Generator().manual_seed(0))
    parts = list(batches(x, y, order, 4))
    assert [len(xb) for xb, _ in parts] == [4, 4, 2]
    assert sorted(torch.cat([yb for _, yb in parts]).tolist()) == list(range(10))
    assert all(torch.equal(xb[:, 0], yb) for xb, yb in parts)  # pairs stay together


def test_twin_has_the_same_function():
    model = MLP(3, 2, 5, 0.1, dtype=F64)
    x = torch.randn(7, 3, dtype=F64)
    torch.testing.assert_close(torch_twin(model)(x).detach(), model.forward(x), rtol=1e-14, atol=1e-14)


def test_manual_mlp_and_autograd_twin_produce_the_same_losses():
    x, y = toy_regression(200)
    model = MLP(2, 1, 16, 0.05, dtype=F64, generator=torch.Generator().manual_seed(1))
    manual, autograd = twin_losses(model, x, y, epochs=3, batch_size=32, seed=2)
    assert len(manual) == 3 * math.ceil(200 / 32)
    assert manual[-1] < manual[0]  # it trained
    assert ((manual - autograd).abs() / autograd.abs()).max() <= 1e-10


def test_training_records_curves_and_keeps_the_best_epoch():
    x, y = toy_regression(300)
    x_val, y_val = toy_regression(100, seed=1)
    make = lambda: MLP(2, 1, 16, 0.05, dtype=F64, generator=torch.Generator().manual_seed(0))  # noqa: E731
    history = train_mlp(make(), x, y, x_val, y_val, epochs=15, batch_size=32, seed=0)
    assert len(history.train_mse) == len(history.val_mse) == 16 and history.epochs_run == 15
    assert history.val_mse[history.best_epoch] == history.best_val_mse == min(history.val_mse)
    assert history.train_mse[-1] < 0.5 * history.train_mse[0] and not history.diverged
    best = make()
    best.load_parameters(history.best_parameters)
    assert evaluate_mse(best, x_val, y_val) == pytest.approx(history.best_val_mse, rel=1e-12)
    again = train_mlp(make(), x, y, x_val, y_val, epochs=15, batch_size=32, seed=0)
    assert again.val_mse == history.val_mse  # deterministic


def test_divergence_is_detected_and_reported():
    x, y = toy_regression(200)
    model = MLP(2, 1, 16, 50.0, dtype=F64, generator=torch.Generator().manual_seed(0))
    history = train_mlp(model, x, y, x[:50], y[:50], epochs=20, batch_size=32, seed=0)
    assert history.diverged and history.epochs_run < 20 and not math.isfinite(history.val_mse[-1])
    assert history.best_epoch == 0
    with pytest.raises(RuntimeError, match="diverged"):
        select_and_test({50.0: history}, lambda chosen: pytest.fail("a diverged run must not reach the test set"))


def test_search_picks_the_lowest_validation_error():
    x, y = toy_regression(200)
    x_val, y_val = toy_regression(100, seed=1)
    runs = search([0.001, 0.05, 100.0], 5, x, y, x_val, y_val, hid_dim=8, batch_size=32, seed=0)
    assert runs[100.0].diverged
    tested = []
    winner, score = select_and_test(runs, lambda chosen: tested.append(chosen) or 1.5)
    assert winner.best_val_mse == min(h.best_val_mse for h in runs.values() if not h.diverged)
    assert tested == [winner] and score == 1.5  # the test set once, for the winner only


def test_predict_restores_the_mode_and_flattens():
    model = MLP(2, 1, 4, 0.1)
    assert predict_values(model, torch.randn(6, 2)).shape == (6,)
    assert not model.eval_mode


def test_observations_report_the_runs_the_twin_and_the_test_error():
    from helpers.experiments.rainfall_fit import History, observations
    from helpers.gradcheck import GradientComparison
    ok = History(lr=0.03, best_epoch=75, best_val_mse=2.195)
    runs = {0.03: ok, 0.1: History(lr=0.1, diverged=True)}
    text = observations(36, True, GradientComparison("loss", 1e-16, 1e-16, 1e-10), 141, runs, ok, 2.277, 2.221)
    assert "(36 checks" in text and "all pass" in text and "every one of 141 steps" in text
    assert "Learning rates tried: 0.03, 0.1; 0.1 diverged in the first epoch" in text
    assert "lr = 0.03 after 75 epochs" in text and "ratio 1.012" in text  # 2.277 / 2.25
    failing = observations(36, False, GradientComparison("loss", 0.5, 1.0, 1e-10), 141, {0.03: ok}, ok, 2.3, 2.2)
    assert "SOME FAIL" in failing and "FAIL)" in failing and "diverged" not in failing


# ---- FitsByLearningRate: notebook 02's live widget trains once per lr and replays epochs --------------------

def fits_for(x, y, x_val, y_val, max_epochs=12):
    return FitsByLearningRate(lambda lr: MLP(2, 1, 16, lr, dtype=F64, generator=torch.Generator().manual_seed(0)),
                              x, y, x_val, y_val, max_epochs=max_epochs, batch_size=32, seed=0)


def test_fewer_epochs_replay_the_cached_run_with_train_mlps_numbers():
    x, y = toy_regression(300)
    x_val, y_val = toy_regression(100, seed=1)
    fits = fits_for(x, y, x_val, y_val)
    *_, (history, model) = fits.fits(0.05, 8, every_s=1e9)
    assert fits.trained(0.05) == 8  # only what was asked for is trained
    for epochs in (8, 3, 0):
        replay = list(fits.fits(0.05, epochs))
        assert len(replay) == 1 and fits.trained(0.05) == 8  # a cache hit: one answer, nothing trained
        history, model = replay[0]
        fresh = MLP(2, 1, 16, 0.05, dtype=F64, generator=torch.Generator().manual_seed(0))
        expected = train_mlp(fresh, x, y, x_val, y_val, epochs=epochs, batch_size=32, seed=0)
        assert history.val_mse == expected.val_mse and history.train_mse == expected.train_mse
        assert all(torch.equal(model.parameters()[name], value) for name, value in fresh.parameters().items())
    *_, (history, _) = fits.fits(0.05, 12)  # more epochs: the same run continues
    assert fits.trained(0.05) == 12 and history.epochs_run == 12
    with pytest.raises(ValueError, match=r"epochs must be in \[0, 12\]"):
        next(fits.fits(0.05, 13))


def test_a_long_training_shows_progress_before_its_answer():
    x, y = toy_regression(300)
    answers = list(fits_for(x, y, *toy_regression(100, seed=1)).fits(0.05, 6, every_s=0.0))
    assert [history.epochs_run for history, _ in answers] == [0, 1, 2, 3, 4, 5, 6]


def test_a_diverged_run_says_why_the_epochs_slider_changes_nothing():
    x, y = toy_regression(200)
    fits = FitsByLearningRate(lambda lr: MLP(2, 1, 16, lr, dtype=F64, generator=torch.Generator().manual_seed(0)),
                              x, y, x[:50], y[:50], max_epochs=20, batch_size=32, seed=0)
    *_, (history, _) = fits.fits(50.0, 20)
    assert history.diverged and history.epochs_run < 20
    status = diverged_status(history, 20)
    assert status.startswith(f"diverged at epoch {history.epochs_run} (loss ") and "lower the learning rate" in status
    assert f"epochs {history.epochs_run + 1}–20 never ran" in status
    *_, (again, _) = fits.fits(50.0, 15)
    assert again.epochs_run == history.epochs_run  # nothing more to train or to show
    assert diverged_status(next(fits.fits(50.0, 0))[0], 0) == ""  # before it diverged: nothing to explain


def test_training_ahead_fills_the_cache_up_to_the_most_epochs():
    x, y = toy_regression(300)
    fits = fits_for(x, y, *toy_regression(100, seed=1), max_epochs=6)
    list(fits.fits(0.05, 2))
    assert len(list(fits.train_ahead(0.05))) == 4 and fits.trained(0.05) == 6
    assert list(fits.train_ahead(0.05)) == []  # nothing more to train
    assert len(list(fits.fits(0.05, 5))) == 1  # answered from the cache


def test_the_student_edition_gets_a_prompt_instead_of_the_findings(monkeypatch):
    from helpers.experiments import rainfall_fit
    from helpers.runtime import edition
    monkeypatch.setattr(edition, "SHOWS_ANSWERS", False)
    assert rainfall_fit.observations(0, True, None, 0, {}, None, 0.0, 0.0) == rainfall_fit.HIDDEN
    assert "answer cell" in rainfall_fit.HIDDEN


def test_select_and_test_refuses_when_no_run_improved_and_evaluates_only_the_choice():
    from helpers.experiments.rainfall_fit import History
    runs = {0.01: History(0.01, [3.0, 2.0], [3.0, 2.5], 1, 2.5), 0.1: History(0.1, [3.0, 1.0], [3.0, 2.4], 1, 2.4),
            1.0: History(1.0, [3.0, math.nan], [3.0, math.nan], diverged=True)}
    seen = []
    chosen, score = select_and_test(runs, lambda history: seen.append(history.lr) or -1.0)
    assert chosen is runs[0.1] and seen == [0.1] and score == -1.0
    with pytest.raises(RuntimeError):
        select_and_test({1.0: runs[1.0]}, lambda history: pytest.fail("never evaluated"))
