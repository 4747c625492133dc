"""helpers.data.cifar: source order, sha256 check, canonical order, clear errors; on tiny fake datasets.

The fakes are uniform-colour 32×32 images whose colour encodes (label, index within the label), so
an image can be identified after JPEG re-encoding (which moves a flat colour by a grey level or so).
Only the last test touches the real CIFAR-10 (through the warm tensor cache).
"""
import json
import pathlib
import pickle
import tarfile

import numpy as np
import pytest
import torch
import torchvision.datasets.cifar
from PIL import Image

import helpers.data.cifar as cifar
import helpers.data.extraction as extraction
from helpers.data.cache import save_verified
from helpers.data.paths import PROJECT_ROOT

PER_CLASS = {"train": 3, "test": 2}
JPEG_TOLERANCE = 3  # grey levels


def colour(label: int, index: int) -> tuple[int, int, int]:
    return 20 * label + 10, 60 * index + 20, 128


def batch_order(split: str) -> list[tuple[int, int]]:
    """(label, index) of each image in the original batch order: labels interleaved, as in CIFAR."""
    pairs = [(label, index) for index in range(PER_CLASS[split]) for label in range(10)]
    return pairs[1:] + pairs[:1] if split == "train" else pairs[::-1]


def expected_canonical(split: str) -> list[tuple[int, int]]:
    return sorted(batch_order(split), key=lambda pair: pair[0])  # stable: batch order within a label


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Empty data and shared-dataset folders; no $BACKPROP_LAB_CIFAR10."""
    for name in ("data", "shared"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("BACKPROP_LAB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("BACKPROP_LAB_SHARED_DATASETS", str(tmp_path / "shared"))
    monkeypatch.delenv(cifar.CIFAR_ENV, raising=False)
    return tmp_path


def make_archive(folder, garbage: str | None = None) -> "pathlib.Path":
    """A fake cifar10-images.tar.gz in the ImageFolder layout of the real one; ``garbage`` (a path under
    cifar10-images/) is an image file that holds no image."""
    root = folder / "build" / "cifar10-images"
    for split in ("train", "test"):
        counters = {}
        for label, index in batch_order(split):
            n = counters.get(label, 0)
            counters[label] = n + 1
            path = root / split / cifar.CLASSES[label] / f"{n:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (32, 32), colour(label, index)).save(path, quality=95)
    if garbage is not None:
        (root / garbage).write_bytes(b"not a jpeg")
    archive = folder / cifar.ARCHIVE_NAME
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="cifar10-images")
    return archive


@pytest.fixture
def fake_archive(isolated, monkeypatch):
    archive = make_archive(isolated)
    monkeypatch.setattr(cifar, "ARCHIVE_SHA256", cifar.sha256_of(archive))
    monkeypatch.setenv(cifar.CIFAR_ENV, str(archive))
    return archive


def make_torchvision_copy(root, monkeypatch):
    """A fake data/cifar-10-batches-py (the pickled batches torchvision reads), integrity check off."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for split, names in (("train", [f"data_batch_{i}" for i in range(1, 6)]), ("test", ["test_batch"])):
        pairs = batch_order(split)
        chunks = np.array_split(np.arange(len(pairs)), len(names))
        for name, chunk in zip(names, chunks):
            data = np.stack([np.repeat(np.array(colour(*pairs[i]), dtype=np.uint8), 1024) for i in chunk])
            with open(folder / name, "wb") as handle:
                pickle.dump({"data": data, "labels": [pairs[i][0] for i in chunk]}, handle)
    with open(folder / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": list(cifar.CLASSES)}, handle)
    # the md5 sums of the real files cannot match the fakes
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args, **kwargs: True)


def identities(images: torch.Tensor, labels: torch.Tensor) -> list[tuple[int, int]]:
    """Decode (label, index) from the flat colours, checking the label channel against ``labels``."""
    mean = images.double().mean(dim=(2, 3))
    decoded = []
    for (red, green, _), label in zip(mean.tolist(), labels.tolist()):
        assert abs(red - colour(label, 0)[0]) <= JPEG_TOLERANCE, "image content does not match its label"
        decoded.append((label, round((green - 20) / 60)))
    return decoded


@pytest.mark.parametrize("split", ["train", "test"])
def test_archive_source_gives_the_canonical_order(fake_archive, split):
    (images, labels), source = cifar._load_uncached(split, download=False)
    assert source == f"archive:{fake_archive}"
    assert images.dtype == torch.uint8 and images.shape == (10 * PER_CLASS[split], 3, 32, 32)
    assert identities(images, labels) == expected_canonical(split)


@pytest.mark.parametrize("split", ["train", "test"])
def test_torchvision_source_gives_the_same_canonical_order(isolated, monkeypatch, split):
    make_torchvision_copy(isolated / "data", monkeypatch)
    (images, labels), source = cifar._load_uncached(split, download=False)
    assert source.startswith("torchvision:")
    assert identities(images, labels) == expected_canonical(split)
    assert torch.equal(labels, torch.tensor([label for label, _ in expected_canonical(split)]))


def test_torchvision_copy_comes_before_the_archive(fake_archive, monkeypatch):
    make_torchvision_copy(fake_archive.parent / "data", monkeypatch)
    _, source = cifar._load_uncached("test", download=False)
    assert source == f"torchvision:{fake_archive.parent / 'data'}"


def test_env_may_name_the_archive_folder(fake_archive, monkeypatch):
    monkeypatch.setenv(cifar.CIFAR_ENV, str(fake_archive.parent))
    assert cifar.find_archive() == fake_archive


def test_corrupted_archive_fails_the_sha256_check_loudly(fake_archive):
    data = bytearray(fake_archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    fake_archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupt or not the expected file: sha256 [0-9a-f]{64}, expected"):
        cifar.load_cifar10("test", download=False)
    cache = fake_archive.parent / "data" / "cache"
    assert not (cache / "cifar10-images").exists(), "nothing may be extracted from an unverified archive"
    assert not list(cache.glob("cifar10_*.pt")), "nothing may be cached from an unverified archive"


def test_archive_is_extracted_once(fake_archive, monkeypatch):
    cifar._load_uncached("test", download=False)
    checks = []
    monkeypatch.setattr(extraction, "verify_sha256", lambda *args: checks.append(args))
    cifar._load_uncached("train", download=False)
    assert checks == [], "a verified extraction is reused"


def damage(folder, how):
    """What an extraction cut short, or a clean-up during one, leaves behind."""
    (folder / "train" / "cat" / "0001.jpg").unlink()
    (folder / "test" / "ship" / "0000.jpg").write_bytes(b"half a jpeg")
    (folder / "train" / "cat" / "9999.jpg").write_bytes((folder / "train" / "cat" / "0000.jpg").read_bytes())
    marker = extraction.marker_path(folder)
    if how == "marker lost":
        marker.unlink()
    elif how == "marker of an older version":
        marker.write_text(cifar.ARCHIVE_SHA256)


@pytest.mark.parametrize("how", ["marker kept", "marker lost", "marker of an older version"])
def test_a_damaged_extraction_is_extracted_again(fake_archive, capsys, how):
    cifar._load_uncached("train", download=False)
    folder = fake_archive.parent / "data" / "cache" / "cifar10-images"
    damage(folder, how)
    for split in ("train", "test"):
        (images, labels), _ = cifar._load_uncached(split, download=False)
        assert identities(images, labels) == expected_canonical(split)
    assert f"re-extracting {folder}: " in capsys.readouterr().err
    assert extraction._extraction_problem(folder, cifar.ARCHIVE_SHA256) is None


def test_the_re_extraction_message_says_what_is_wrong(fake_archive, capsys):
    cifar._load_uncached("test", download=False)
    folder = fake_archive.parent / "data" / "cache" / "cifar10-images"
    damage(folder, "marker kept")
    cifar._load_uncached("test", download=False)
    assert (f"re-extracting {folder}: 49 of 50 files present; 1 missing (e.g. cifar10-images/train/cat/0001.jpg), "
            "1 with the wrong size (e.g. cifar10-images/test/ship/0000.jpg), "
            "1 not in the archive (e.g. cifar10-images/train/cat/9999.jpg)") in capsys.readouterr().err


def test_an_incomplete_extraction_is_not_marked_done_and_the_error_names_the_fix(fake_archive, monkeypatch):
    extract_all = tarfile.TarFile.extractall

    def deleted_meanwhile(self, path, *args, **kwargs):  # something cleans the cache folder meanwhile
        extract_all(self, path, *args, **kwargs)
        (fake_archive.parent / "data" / "cache" / "cifar10-images" / "train" / "dog" / "0000.jpg").unlink()

    folder = fake_archive.parent / "data" / "cache" / "cifar10-images"
    with monkeypatch.context() as patch, pytest.raises(RuntimeError) as error:
        patch.setattr(tarfile.TarFile, "extractall", deleted_meanwhile)
        cifar._load_uncached("test", download=False)
    message = str(error.value)
    assert f"delete {folder} and run again" in message and "The archive is intact" in message
    assert "49 of 50 files present; 1 missing (e.g. cifar10-images/train/dog/0000.jpg)" in message
    assert "corrupt" not in message
    assert not extraction.marker_path(folder).exists(), "an incomplete extraction is never marked done"
    (images, labels), _ = cifar._load_uncached("train", download=False)  # the next run repairs it
    assert identities(images, labels) == expected_canonical("train")


def flip_a_byte(path):
    """A flipped byte in the middle of the file: same name, same size, other content."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_an_extracted_image_is_named_and_the_folder_extracted_again(fake_archive, capsys):
    cifar._load_uncached("test", download=False)
    folder = fake_archive.parent / "data" / "cache" / "cifar10-images"
    image = folder / "test" / "ship" / "0000.jpg"
    original = image.read_bytes()
    flip_a_byte(image)
    assert extraction._extraction_problem(folder, cifar.ARCHIVE_SHA256) is None, "names and sizes cannot see it"
    (images, labels), _ = cifar._load_uncached("test", download=False)
    assert identities(images, labels) == expected_canonical("test")
    assert image.read_bytes() == original
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"re-extracting {folder}: cifar10-images/test/ship/0000.jpg differs from the archive (sha256 "), lines


def test_a_file_damaged_again_after_extracting_it_again_is_named(fake_archive, monkeypatch):
    extract_all = tarfile.TarFile.extractall
    image = fake_archive.parent / "data" / "cache" / "cifar10-images" / "test" / "dog" / "0001.jpg"

    def damaged_each_time(self, path, *args, **kwargs):  # something keeps writing into the cache folder
        extract_all(self, path, *args, **kwargs)
        flip_a_byte(image)

    monkeypatch.setattr(tarfile.TarFile, "extractall", damaged_each_time)
    with pytest.raises(extraction.DamagedFileError) as error:
        cifar._load_uncached("test", download=False)
    assert error.value.path == image
    assert str(error.value).startswith(f"{image}: cifar10-images/test/dog/0001.jpg differs from the archive")
    assert "even after extracting it again" in str(error.value)


def test_a_file_of_the_archive_that_does_not_decode_is_named(isolated, monkeypatch):
    archive = make_archive(isolated, garbage="test/ship/0000.jpg")
    monkeypatch.setattr(cifar, "ARCHIVE_SHA256", cifar.sha256_of(archive))
    monkeypatch.setenv(cifar.CIFAR_ENV, str(archive))
    with pytest.raises(ValueError, match=r"cannot decode .*cifar10-images/test/ship/0000\.jpg: "):
        cifar._load_uncached("test", download=False)


def test_a_marker_without_digests_is_extracted_again(fake_archive, capsys):
    cifar._load_uncached("test", download=False)
    folder = fake_archive.parent / "data" / "cache" / "cifar10-images"
    marker = extraction.marker_path(folder)
    record = json.loads(marker.read_text())
    del record["sha256"]  # what an older version wrote
    marker.write_text(json.dumps(record))
    cifar._load_uncached("test", download=False)
    assert "holds no member list with digests" in capsys.readouterr().err
    assert "sha256" in json.loads(marker.read_text())


def test_an_incomplete_source_is_refused_with_the_expected_shape(fake_archive):
    with pytest.raises(ValueError, match=r"expected uint8 \(10000, 3, 32, 32\)"):
        cifar.load_cifar10("test", download=False)


def test_missing_data_says_where_to_put_it(isolated):
    with pytest.raises(FileNotFoundError) as error:
        cifar.load_cifar10("test", download=False)
    message = str(error.value)
    assert "CIFAR-10 not found" in message
    assert f"{isolated / 'data'}/cifar-10-batches-py" in message
    assert cifar.ARCHIVE_NAME in message and cifar.CIFAR_ENV in message


def test_failed_download_is_named_in_the_error(isolated, monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("network unreachable")
    monkeypatch.setattr(cifar, "_from_torchvision", offline)
    with pytest.raises(FileNotFoundError, match="download failed: network unreachable"):
        cifar.load_cifar10("test", download=True)


def test_env_pointing_at_nothing_is_an_error(isolated, monkeypatch):
    monkeypatch.setenv(cifar.CIFAR_ENV, str(isolated / "nowhere"))
    with pytest.raises(FileNotFoundError, match="holds neither the torchvision copy"):
        cifar.load_cifar10("test", download=False)


def test_bad_split_name():
    with pytest.raises(ValueError, match="split must be one of"):
        cifar.load_cifar10("validation")


def test_cached_tensors_builds_once_and_rebuilds_a_broken_cache(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"x": torch.arange(3), "y": torch.ones(3, dtype=torch.int64)}

    path = tmp_path / "cache.pt"
    spec = {"x": (torch.int64, (3,))}
    first = cifar.cached_tensors(path, build, spec)
    second = cifar.cached_tensors(path, build, spec)
    assert torch.equal(first["x"], second["x"]) and len(calls) == 1
    path.write_bytes(b"not a tensor file")
    assert torch.equal(cifar.cached_tensors(path, build, spec)["x"], torch.arange(3)) and len(calls) == 2
    save_verified(path, {"x": torch.arange(3)})  # an older layout without "y", with a matching record
    assert "y" in cifar.cached_tensors(path, build, {**spec, "y": (torch.int64, (3,))}) and len(calls) == 3


def test_real_cifar10_in_canonical_order():
    """The real data (from the warm cache): labels sorted, 1,000 per class, and the first test cat is
    test/cat/0000.jpg of the offline archive (within JPEG noise, whichever source filled the cache)."""
    try:
        images, labels = cifar.load_cifar10("test", download=False)
    except FileNotFoundError as error:
        pytest.skip(f"CIFAR-10 not available here: {error}")
    assert images.shape == (10_000, 3, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(labels, torch.arange(10).repeat_interleave(1000))
    jpeg = PROJECT_ROOT / "data" / "cache" / "cifar10-images" / "test" / "cat" / "0000.jpg"
    if not jpeg.exists():
        pytest.skip("the offline archive has not been extracted here")
    reference = torch.from_numpy(np.array(Image.open(jpeg).convert("RGB"))).permute(2, 0, 1)
    first_cat = images[3 * 1000]
    assert (first_cat.float() - reference.float()).abs().mean() < 12
    other_cat = images[3 * 1000 + 1]
    assert (other_cat.float() - reference.float()).abs().mean() > 12, "the comparison tells images apart"


@pytest.mark.parametrize("filters", [True, False], ids=["with tarfile filters", "Python before 3.11.4"])
def test_extraction_refuses_a_member_outside_the_archive_folder(tmp_path, monkeypatch, filters):
    import io

    from helpers.data.extraction import extract_members
    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "archive.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("images/a.jpg", "../escaped.jpg"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"jpg"))
    target = tmp_path / "inside"
    target.mkdir()
    refused = (RuntimeError, getattr(tarfile, "FilterError", RuntimeError))  # the filter's own error, or ours
    with tarfile.open(archive) as tar, pytest.raises(refused):
        extract_members(tar, target, tar.getmembers(), archive)
    assert not (tmp_path / "escaped.jpg").exists()
    with tarfile.open(archive) as tar:  # the safe member alone extracts
        extract_members(tar, target, [tar.getmember("images/a.jpg")], archive)
    assert (target / "images" / "a.jpg").read_bytes() == b"jpg"
