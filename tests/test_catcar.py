"""helpers.data.catcar: the cat/car subset, its splits and normalisation, augmentation and batches.

Pipeline tests run on a small fake CIFAR-10 (monkeypatched ``load_cifar10``, cache in tmp_path);
one test checks the real data through the warm cache (skipped where CIFAR-10 is missing).
"""
import itertools

import pytest
import torch

import helpers.data.catcar as catcar
from helpers.data.catcar import BatchLoader, flip_and_shift, load_catcar, shrink, stratified_split

FAKE_PER_CLASS = {"train": 20, "test": 6}


def fake_cifar(split):
    """Random uint8 images, labels in canonical order (by label), like load_cifar10 at small size."""
    generator = torch.Generator().manual_seed(len(split))
    n = FAKE_PER_CLASS[split]
    images = torch.randint(0, 256, (10 * n, 3, 32, 32), generator=generator, dtype=torch.uint8)
    return images, torch.arange(10).repeat_interleave(n)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Count the calls to the fake load_cifar10; caches go to tmp_path."""
    monkeypatch.setenv("BACKPROP_LAB_DATA", str(tmp_path))
    calls = []
    monkeypatch.setattr(catcar, "load_cifar10", lambda split: calls.append(split) or fake_cifar(split))
    return calls


def test_label_mapping_pixels_and_resizing(fake):
    data = load_catcar(val_fraction=0.25)
    for name, part in (("train", data.train), ("val", data.val), ("test", data.test)):
        images, cifar_labels = fake_cifar("test" if name == "test" else "train")
        assert set(part.labels.tolist()) == {0, 1}
        # 0 = cat (CIFAR 3), 1 = car (CIFAR 1, "automobile")
        assert torch.equal(cifar_labels[part.cifar_index], torch.where(part.labels == 0, 3, 1))
        assert torch.equal(part.originals, images[part.cifar_index])
        blocks = part.originals.double().div(255).view(-1, 3, 16, 2, 16, 2).mean(dim=(3, 5))
        assert torch.allclose(part.images.double(), blocks, atol=1e-6)
        assert part.images.dtype == torch.float32 and part.images.shape[1:] == (3, 16, 16)
    assert catcar.CLASS_NAMES[0] == "cat" and catcar.CLASS_NAMES[1] == "car"


def test_splits_are_stratified_disjoint_and_complete(fake):
    data = load_catcar(val_fraction=0.25, seed=1)
    assert data.train.class_counts() == {"cat": 15, "car": 15}
    assert data.val.class_counts() == {"cat": 5, "car": 5}
    assert data.test.class_counts() == {"cat": 6, "car": 6}
    train, val = set(data.train.cifar_index.tolist()), set(data.val.cifar_index.tolist())
    assert not train & val
    _, cifar_labels = fake_cifar("train")
    all_cats_and_cars = set(torch.nonzero((cifar_labels == 1) | (cifar_labels == 3)).squeeze(1).tolist())
    assert train | val == all_cats_and_cars


def test_split_is_seeded(fake):
    first, again, other = load_catcar(seed=1), load_catcar(seed=1), load_catcar(seed=2)
    assert torch.equal(first.val.cifar_index, again.val.cifar_index)
    assert not torch.equal(first.val.cifar_index, other.val.cifar_index)


def test_normalisation_uses_the_training_split_only(fake):
    data = load_catcar(val_fraction=0.25)
    assert torch.allclose(data.mean, data.train.images.mean(dim=(0, 2, 3)))
    assert torch.allclose(data.std, data.train.images.std(dim=(0, 2, 3)))
    normalised, labels = data.inputs("train")
    assert torch.equal(labels, data.train.labels)
    assert torch.allclose(normalised.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(normalised.std(dim=(0, 2, 3)), torch.ones(3), atol=1e-5)
    val_mean = data.val.images.mean(dim=(0, 2, 3))
    assert not torch.allclose(val_mean, data.mean), "fake val differs from train, so the test can tell"
    with pytest.raises(ValueError, match="split must be"):
        data.inputs("validation")
    with pytest.raises(ValueError, match=r"expected images of shape \(N, 3, H, W\)"):
        data.normalize(torch.zeros(4, 768))


def test_second_load_comes_from_the_cache(fake):
    first = load_catcar()
    assert sorted(fake) == ["test", "train"]
    second = load_catcar()
    assert sorted(fake) == ["test", "train"], "the second load must not read CIFAR-10 again"
    assert torch.equal(first.train.images, second.train.images)
    assert torch.equal(first.test.originals, second.test.originals)


def test_real_data_splits():
    try:
        data = load_catcar()
    except FileNotFoundError as error:
        pytest.skip(f"CIFAR-10 not available here: {error}")
    assert (len(data.train), len(data.val), len(data.test)) == (8000, 2000, 2000)
    assert data.train.class_counts() == {"cat": 4000, "car": 4000}
    assert data.val.class_counts() == {"cat": 1000, "car": 1000}
    assert data.test.class_counts() == {"cat": 1000, "car": 1000}
    assert not set(data.train.cifar_index.tolist()) & set(data.val.cifar_index.tolist())
    for part, per_class in ((data.train, 5000), (data.val, 5000), (data.test, 1000)):
        # load_cifar10's canonical order: label = index // images per class
        cifar_labels = part.cifar_index // per_class
        assert torch.equal(cifar_labels, torch.where(part.labels == 0, 3, 1))


def test_stratified_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        stratified_split(torch.zeros(10, dtype=torch.long), 1.0, 0)


def test_shrink_averages_two_by_two_blocks():
    image = torch.tensor([[0, 255], [255, 255]], dtype=torch.uint8).repeat(1, 3, 16, 16)
    assert torch.allclose(shrink(image), torch.full((1, 3, 16, 16), 0.75))
    with pytest.raises(ValueError, match="expected uint8 images"):
        shrink(image.float())


def shifted(image, dy, dx):
    """``image`` (C, H, W) moved by (dy, dx) with zeros coming in: out[y, x] = image[y + dy, x + dx]."""
    out = torch.zeros_like(image)
    height, width = image.shape[1:]
    for y, x in itertools.product(range(height), range(width)):
        if 0 <= y + dy < height and 0 <= x + dx < width:
            out[:, y, x] = image[:, y + dy, x + dx]
    return out


def test_flip_and_shift_makes_only_flips_and_small_shifts():
    images = torch.randn(120, 2, 5, 6, generator=torch.Generator().manual_seed(0))
    out = flip_and_shift(images, 1, torch.Generator().manual_seed(1))
    seen = set()
    for image, augmented in zip(images, out):
        matches = [(flip, dy, dx) for flip in (False, True) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                   if torch.equal(augmented, shifted(image.flip(-1) if flip else image, dy, dx))]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) == 18, "every flip and shift is drawn"
    again = flip_and_shift(images, 1, torch.Generator().manual_seed(1))
    assert torch.equal(out, again)
    flips_only = flip_and_shift(images, 0, torch.Generator().manual_seed(1))
    assert all(torch.equal(a, b) or torch.equal(a, b.flip(-1)) for a, b in zip(flips_only, images))


def epoch_batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def test_batch_loader_covers_every_sample_once_per_epoch_and_is_seeded():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1).expand(50, 1, 4, 4).contiguous()
    labels = torch.arange(50)
    loader = BatchLoader(images, labels, batch_size=16, seed=3)
    assert len(loader) == 4
    first, second = epoch_batches(loader), epoch_batches(loader)
    for batches in (first, second):
        assert [len(y) for _, y in batches] == [16, 16, 16, 2]
        order = torch.cat([y for _, y in batches])
        assert sorted(order.tolist()) == list(range(50))
        assert torch.equal(torch.cat([x for x, _ in batches])[:, 0, 0, 0], order.float()), "x stays with y"
    assert not torch.equal(first[0][1], second[0][1]), "each epoch draws its own order"
    twin = BatchLoader(images, labels, batch_size=16, seed=3)
    for (x_a, y_a), (x_b, y_b) in zip(first + second, epoch_batches(twin) + epoch_batches(twin)):
        assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
    in_order = BatchLoader(images, labels, batch_size=16, shuffle=False)
    assert torch.equal(torch.cat([y for _, y in in_order]), labels)


def test_batch_loader_augments_when_asked():
    images = torch.randn(40, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    loader = BatchLoader(images, torch.zeros(40, dtype=torch.long), batch_size=40, shuffle=False, augment=True)
    x, _ = next(iter(loader))
    assert x.shape == images.shape and not torch.equal(x, images)


def test_batch_loader_rejects_bad_input():
    with pytest.raises(ValueError, match="as many labels as images"):
        BatchLoader(torch.zeros(3, 768), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="augmentation needs images of shape"):
        BatchLoader(torch.zeros(3, 768), torch.zeros(3, dtype=torch.long), augment=True)
