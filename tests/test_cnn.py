"""helpers.models.cnn: the network's shapes, the augmentation, a reproducible training run, safe loading."""
import pickle

import pytest
import torch
import torch.nn.functional as F

from helpers.data.checksums import sha256_of
from helpers.data.cifar import CIFAR_MEAN, CIFAR_STD, normalize
from helpers.models import cnn, second_cnn


def test_network_shapes_names_and_normalisation_constants():
    model = cnn.CifarCNN()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model(torch.randn(1, 3, 16, 16)).shape == (1, 10)  # global pooling: smaller inputs work
    names = dict(model.named_modules())
    assert {"features.stem", "features.block1", "features.block2", "features.block3", "classifier"} <= set(names)
    assert model.mean == CIFAR_MEAN and model.std == CIFAR_STD  # the data layer's statistics
    assert "mean" not in model.state_dict()  # constants, not weights
    assert sum(p.numel() for p in model.parameters()) < 1_000_000  # "a few MB at most"


def test_normalize_per_channel():
    images = torch.rand(4, 3, 5, 5)
    out = normalize(images)
    for c in range(3):
        torch.testing.assert_close(out[:, c], (images[:, c] - CIFAR_MEAN[c]) / CIFAR_STD[c])
    # by hand: mean 0.5 and std 0.25 in every channel map 0.5 -> 0 and 1.0 -> 2
    torch.testing.assert_close(normalize(torch.tensor([0.5, 1.0]).view(1, 1, 1, 2), (0.5,), (0.25,)),
                               torch.tensor([0.0, 2.0]).view(1, 1, 1, 2))


def test_augment_crops_a_window_of_the_padded_image_and_maybe_flips_it():
    images = torch.rand(12, 3, 8, 8)
    out = cnn.augment(images, padding=2, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    padded = F.pad(images, (2, 2, 2, 2), mode="reflect")
    flips = 0
    for i in range(len(images)):
        windows = [padded[i, :, y:y + 8, x:x + 8] for y in range(5) for x in range(5)]
        plain = any(torch.equal(out[i], w) for w in windows)
        mirrored = any(torch.equal(out[i], w.flip(-1)) for w in windows)
        assert plain or mirrored
        flips += mirrored and not plain
    assert 0 < flips < len(images)
    again = cnn.augment(images, padding=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_augment_without_padding_only_flips():
    images = torch.rand(16, 3, 6, 6)
    out = cnn.augment(images, padding=0, generator=torch.Generator().manual_seed(1))
    for original, augmented in zip(images, out):
        assert torch.equal(augmented, original) or torch.equal(augmented, original.flip(-1))


def _toy_data(n, seed):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    # class-dependent mean colour plus noise: learnable in one short epoch
    base = (labels.float() * 25).view(-1, 1, 1, 1).expand(n, 3, 32, 32)
    images = (base + torch.randint(0, 30, (n, 3, 32, 32), generator=generator)).clamp(0, 255)
    return images.to(torch.uint8), labels


def test_training_is_reproducible_and_learns():
    # float32: bfloat16 autocast is emulated (about 15x slower) on CPUs without native bf16, like this one
    config = cnn.TrainConfig(seed=3, epochs=2, batch_size=32, max_lr=0.05, bf16=False)
    data = dict(train_data=_toy_data(128, 0), test_data=_toy_data(64, 1), log=lambda line: None)
    first, stats = cnn.train_cnn(config, device=torch.device("cpu"), **data)
    second, _ = cnn.train_cnn(config, device=torch.device("cpu"), **data)
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values()):
        assert torch.equal(a, b), name  # same seed, same thread count: bit-identical weights
    assert not first.training
    assert stats["epochs"][-1]["train_loss"] < stats["epochs"][0]["train_loss"]
    assert 0 <= stats["test_accuracy"] <= 1 and stats["train_seconds"] > 0


def test_save_then_load_with_the_right_hash(tmp_path):
    model = cnn.CifarCNN().eval()
    path = tmp_path / "weights.pt"
    digest = cnn.save_weights(model, path)
    assert cnn.save_weights(model, tmp_path / "other_name.pt") == digest  # bytes depend on weights only
    loaded = cnn.load_pretrained_cnn(path, expected_sha256=digest)
    assert not loaded.training
    for (name, a), b in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(a, b), name
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(loaded(x), model(x))


# each committed network's loader and the command that regenerates its weights
LOADERS = [(cnn.load_pretrained_cnn, "python -m helpers.models.cnn train"),
           (second_cnn.load_second_cnn, "python -m helpers.models.second_cnn train")]


@pytest.mark.parametrize("load, command", LOADERS)
def test_missing_weights_say_how_to_regenerate(tmp_path, load, command):
    with pytest.raises(FileNotFoundError, match=command):
        load(tmp_path / "absent.pt")


class _Payload:
    def __reduce__(self):
        return (exec, ("raise SystemExit('code ran while loading')",))


@pytest.mark.parametrize("load, command", LOADERS)
def test_wrong_hash_is_refused_before_anything_is_unpickled(tmp_path, monkeypatch, load, command):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(_Payload()))
    calls = []
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: calls.append(args))
    with pytest.raises(ValueError, match=rf"sha256 .* expected .*{command}"):
        load(path)
    assert calls == []


@pytest.mark.parametrize("load, command", LOADERS)
def test_weights_only_load_refuses_code_even_with_a_matching_hash(tmp_path, load, command):
    path = tmp_path / "evil.pt"
    torch.save({"x": _Payload()}, path)
    with pytest.raises(pickle.UnpicklingError):
        load(path, expected_sha256=sha256_of(path))


def test_train_command_passes_its_options_to_train_cnn(tmp_path, monkeypatch, capsys):
    configs = []

    def fake_train_cnn(config, log, network):
        configs.append(config)
        assert network is cnn.CifarCNN
        return cnn.CifarCNN().eval(), {"test_accuracy": 0.5, "train_seconds": 60.0, "train_cpu_seconds": 30.0}

    monkeypatch.setattr(cnn, "train_cnn", fake_train_cnn)
    out = tmp_path / "weights.pt"
    assert cnn.main(["train", "--epochs", "3", "--no-bf16", "--out", str(out)]) == 0
    assert configs == [cnn.TrainConfig(epochs=3, bf16=False)]
    assert out.is_file()
    printed = capsys.readouterr().out
    assert "test accuracy 0.5000" in printed and f"sha256 {sha256_of(out)}" in printed


# ---------------------------------------------------------------------------- the second network

def test_second_network_differs_in_architecture_and_seed():
    model = second_cnn.SecondCNN()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert (model.mean, model.std) == (CIFAR_MEAN, CIFAR_STD)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())  # strided convolutions instead
    assert sum(p.numel() for p in model.parameters()) < sum(p.numel() for p in cnn.CifarCNN().parameters()) / 2
    assert second_cnn.SECOND_CONFIG.seed != cnn.TrainConfig().seed


# each committed network: its file, hash, size bound, loader, class and the accuracy it must keep on every
# 10th test image (1,000 images, 100 per class; the full test set gives the accuracy in its module's docstring)
COMMITTED = [(cnn.weights_path, cnn.WEIGHTS_SHA256, cnn.TRAIN_COMMAND, 5_000_000, cnn.load_pretrained_cnn,
              cnn.CifarCNN, 0.78),
             (second_cnn.second_weights_path, second_cnn.SECOND_WEIGHTS_SHA256, second_cnn.SECOND_TRAIN_COMMAND,
              1_000_000, second_cnn.load_second_cnn, second_cnn.SecondCNN, 0.6)]


@pytest.mark.parametrize("weights_path, sha256, command, max_bytes, load, network, min_accuracy", COMMITTED,
                         ids=["cnn", "second_cnn"])
def test_committed_weights_match_their_hash_and_classify_cifar10(weights_path, sha256, command, max_bytes, load,
                                                                 network, min_accuracy):
    path = weights_path()
    assert path.is_file(), f"{path} is missing: run `{command}`"
    assert sha256_of(path) == sha256 and path.stat().st_size < max_bytes
    model = load()
    assert isinstance(model, network) and not model.training
    try:
        from helpers.data.cifar import load_cifar10
        images, labels = load_cifar10("test", download=False)
    except FileNotFoundError as error:
        pytest.skip(f"CIFAR-10 not available: {error}")
    accuracy = cnn.evaluate(model, images[::10], labels[::10])
    assert accuracy >= min_accuracy, accuracy


def test_second_train_command_trains_a_second_cnn_with_its_own_defaults(tmp_path, monkeypatch, capsys):
    calls = []

    def fake_train_cnn(config, log, network):
        calls.append((config, network))
        return network().eval(), {"test_accuracy": 0.5, "train_seconds": 60.0, "train_cpu_seconds": 30.0}

    monkeypatch.setattr(cnn, "train_cnn", fake_train_cnn)
    out = tmp_path / "second.pt"
    assert second_cnn.main(["train", "--epochs", "2", "--out", str(out)]) == 0
    assert calls == [(cnn.TrainConfig(seed=1, epochs=2, bf16=False), second_cnn.SecondCNN)]
    assert "training SecondCNN" in capsys.readouterr().out
