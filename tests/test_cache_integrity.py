"""helpers.data.cache: caches are verified before use, built once under a lock, written atomically,
readable without writing anything, read from a class's shared cache before being built, and killed writers' leftovers are cleaned up. Small fake caches
only (the CIFAR-10 caches built here come from the tiny fake archive of test_cifar.py)."""
import os
import subprocess
import sys
import threading

import pytest
import torch

import helpers.data.cache as cache
import helpers.data.catcar as catcar
import helpers.data.cifar as cifar
from helpers.data.cache import cached_tensors, record_path, save_verified
from test_cifar import fake_archive, isolated  # noqa: F401 (fixtures)
from test_catcar import fake  # noqa: F401 (a fixture)

PATTERN = torch.arange(256, dtype=torch.uint8).repeat(16)  # 4 KiB whose bytes are easy to find in the file
SPEC = {"x": (torch.uint8, ("n",))}


class Builds:
    """A build function that counts its calls and returns a fresh copy of ``PATTERN``."""

    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"x": PATTERN.clone()}


# --- item 5: a cache is verified before it is used ---------------------------------------------

def test_a_flipped_byte_in_the_tensor_data_is_caught_and_rebuilt(tmp_path, capsys):
    path, build = tmp_path / "cache.pt", Builds()
    cached_tensors(path, build, SPEC)
    data = bytearray(path.read_bytes())
    offset = data.index(bytes(PATTERN[:256].tolist())) + 100
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))
    assert not torch.equal(torch.load(path, weights_only=True)["x"], PATTERN), "torch itself reads it silently"

    assert torch.equal(cached_tensors(path, build, SPEC)["x"], PATTERN)
    assert build.calls == 2
    assert "corrupted: sha256" in capsys.readouterr().err, "the rebuild says why, in one line"
    assert torch.equal(cached_tensors(path, build, SPEC)["x"], PATTERN) and build.calls == 2, "and it stays fixed"


def test_a_corrupted_cache_is_never_unpickled(tmp_path, monkeypatch):
    path, build = tmp_path / "cache.pt", Builds()
    cached_tensors(path, build, SPEC)
    path.write_bytes(path.read_bytes()[:-10])
    loads = []
    monkeypatch.setattr(torch, "load", lambda *args, **kwargs: loads.append(args))
    cached_tensors(path, build, SPEC)
    assert loads == [] and build.calls == 2


@pytest.mark.parametrize("wrong", [torch.zeros(4, 3, 16, 16, dtype=torch.uint8),  # right key, wrong shape
                                   torch.zeros(4, 3, 32, 32)])  # right key and shape, wrong dtype
def test_a_cache_with_the_right_keys_but_wrong_tensors_is_rebuilt(tmp_path, capsys, wrong):
    path = tmp_path / "cache.pt"
    loose = {"images": (wrong.dtype, ("n", 3, "h", "w"))}
    cached_tensors(path, lambda: {"images": wrong}, loose)  # e.g. written by a buggy build
    right = torch.ones(4, 3, 32, 32, dtype=torch.uint8)
    strict = {"images": (torch.uint8, ("n", 3, 32, 32))}
    assert torch.equal(cached_tensors(path, lambda: {"images": right}, strict)["images"], right)
    assert "expected torch.uint8 ('n', 3, 32, 32)" in capsys.readouterr().err


def test_named_dimensions_must_agree(tmp_path):
    spec = {"images": (torch.uint8, ("n", 3)), "labels": (torch.int64, ("n",))}
    good = {"images": torch.zeros(5, 3, dtype=torch.uint8), "labels": torch.zeros(5, dtype=torch.int64)}
    assert cache.spec_problem(good, spec) is None
    bad = {**good, "labels": torch.zeros(4, dtype=torch.int64)}
    assert cache.spec_problem(bad, spec) == "'labels' is torch.int64 (4,), expected torch.int64 ('n',) with {'n': 5}"
    with pytest.raises(ValueError, match="the data built for .* has no tensor 'labels'"):
        cached_tensors(tmp_path / "cache.pt", lambda: {"images": good["images"]}, spec)
    assert not (tmp_path / "cache.pt").exists(), "a build that contradicts its spec is not cached"


def test_catcar_cache_with_wrong_shapes_and_a_matching_record_is_rebuilt(fake):
    first = catcar.load_catcar()
    path = catcar.cache_dir() / f"catcar_v{catcar.CACHE_VERSION}.pt"
    stored = torch.load(path, weights_only=True)
    save_verified(path, {**stored, "test_images16": stored["test_images16"][:, :, :8, :8].contiguous()})
    again = catcar.load_catcar()
    assert sorted(fake) == ["test", "test", "train", "train"], "the subset was rebuilt from CIFAR-10"
    assert torch.equal(again.test.images, first.test.images)


# --- item 8: a read-only data folder; leftovers of killed writers -------------------------------

def block_writes(folder, lock_names):
    """Make ``folder`` read-only for this process: chmod, or where we are root (who ignores
    permissions) a folder in the way of each lock file, so that opening it for writing fails."""
    for lock in folder.glob("*.lock"):
        lock.unlink()
    if os.geteuid() != 0:
        folder.chmod(0o555)
    else:
        for name in lock_names:
            (folder / name).mkdir()


def test_built_caches_are_read_from_a_read_only_folder(fake_archive, monkeypatch):
    monkeypatch.setattr(cifar, "SPLIT_SIZES", {"train": 30, "test": 20})  # the fake archive's sizes
    test_images, test_labels = cifar.load_cifar10("test", download=False)
    cifar.load_cifar10("train", download=False)
    folder = cifar.cache_dir()
    (folder / f"cifar10_train_v{cifar.CACHE_VERSION}.pt").unlink()  # one cache left to build
    locks = [f"cifar10_{split}_v{cifar.CACHE_VERSION}.pt.lock" for split in ("train", "test")]
    block_writes(folder, locks + ["cifar10-images.extracted.lock"])
    try:
        images, labels = cifar.load_cifar10("test", download=False)
        assert torch.equal(images, test_images) and torch.equal(labels, test_labels)
        assert not [p for p in folder.glob("*.lock") if p.is_file()], "reading takes no lock"
        with pytest.raises(OSError, match=r"cannot write the cache cifar10_train_v1\.pt in .*BACKPROP_LAB_DATA"):
            cifar.load_cifar10("train", download=False)
    finally:
        folder.chmod(0o755)


def shared_cache(tmp_path, monkeypatch, content: torch.Tensor):
    """A class's shared cache holding a verified ``cache.pt`` of ``content``; the own folder ``own/`` empty."""
    shared, own = tmp_path / "shared", tmp_path / "own"
    shared.mkdir()
    own.mkdir()
    save_verified(shared / "cache.pt", {"x": content})
    monkeypatch.setenv("BACKPROP_LAB_SHARED_CACHE", str(shared))
    monkeypatch.setenv("BACKPROP_LAB_DATA", str(tmp_path / "data"))
    return shared, own


def test_a_verified_cache_in_the_shared_folder_is_read_and_nothing_is_built_or_written(tmp_path, monkeypatch):
    shared, own = shared_cache(tmp_path, monkeypatch, PATTERN.flip(0))
    before = {p.name: p.stat().st_mtime_ns for p in shared.iterdir()}
    build = Builds()
    assert torch.equal(cached_tensors(own / "cache.pt", build, SPEC)["x"], PATTERN.flip(0))
    assert build.calls == 0
    assert list(own.iterdir()) == [], "no copy, no lock in the student's folder"
    assert {p.name: p.stat().st_mtime_ns for p in shared.iterdir()} == before, "nothing written in the shared one"


def test_a_corrupted_shared_cache_is_not_used_the_own_one_is_built(tmp_path, monkeypatch):
    shared, own = shared_cache(tmp_path, monkeypatch, PATTERN.flip(0))
    (shared / "cache.pt").write_bytes((shared / "cache.pt").read_bytes()[:-10])
    build = Builds()
    assert torch.equal(cached_tensors(own / "cache.pt", build, SPEC)["x"], PATTERN)
    assert build.calls == 1 and (own / "cache.pt").is_file()


def test_the_own_verified_cache_comes_before_the_shared_one(tmp_path, monkeypatch):
    _, own = shared_cache(tmp_path, monkeypatch, PATTERN.flip(0))
    save_verified(own / "cache.pt", {"x": PATTERN})
    assert torch.equal(cached_tensors(own / "cache.pt", Builds(), SPEC)["x"], PATTERN)


def test_the_shared_cache_is_off_when_unset_missing_or_the_own_cache(tmp_path, monkeypatch):
    from helpers.data.paths import shared_cache_dir
    monkeypatch.setenv("BACKPROP_LAB_DATA", str(tmp_path))
    monkeypatch.delenv("BACKPROP_LAB_SHARED_CACHE", raising=False)
    assert shared_cache_dir() is None
    monkeypatch.setenv("BACKPROP_LAB_SHARED_CACHE", str(tmp_path / "nowhere"))
    assert shared_cache_dir() is None
    (tmp_path / "cache").mkdir()
    monkeypatch.setenv("BACKPROP_LAB_SHARED_CACHE", str(tmp_path / "cache"))
    assert shared_cache_dir() is None, "the own cache is not a second, shared one"
    (tmp_path / "class").mkdir()
    monkeypatch.setenv("BACKPROP_LAB_SHARED_CACHE", str(tmp_path / "class"))
    assert shared_cache_dir() == (tmp_path / "class").resolve()


def test_stale_partial_files_are_removed_and_live_ones_kept(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its PID names no process any more
    live = subprocess.Popen(["sleep", "60"])
    try:
        path = tmp_path / "cache.pt"
        stale = [tmp_path / f"cache.pt.partial-{gone.pid}", tmp_path / f"cache.pt.sha256.partial-{gone.pid}"]
        kept = [tmp_path / f"cache.pt.partial-{live.pid}", tmp_path / f"other.pt.partial-{gone.pid}"]
        for leftover in stale + kept:
            leftover.write_bytes(b"half a tensor file")
        cached_tensors(path, Builds(), SPEC)
        assert not any(p.exists() for p in stale), "a killed writer's leftovers are removed"
        assert all(p.read_bytes() == b"half a tensor file" for p in kept), "a live writer's file is never touched"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["cache.pt", "cache.pt.lock", "cache.pt.sha256"] + [p.name for p in kept])
    finally:
        live.kill()
        live.wait()


# --- item 11: the lock and the atomic write are load-bearing -----------------------------------

def test_two_concurrent_builders_build_once(tmp_path):
    """Without the lock both threads find no cache and both build (flock excludes threads too: each
    opens the lock file itself)."""
    path, second_build = tmp_path / "cache.pt", threading.Event()
    calls, results = [], []

    def build():
        calls.append(1)
        if len(calls) == 2:
            second_build.set()
        second_build.wait(timeout=2)  # give a racing builder every chance to show up
        return {"x": PATTERN.clone()}

    start = threading.Barrier(2)

    def builder():
        start.wait()
        results.append(cached_tensors(path, build, SPEC))

    threads = [threading.Thread(target=builder) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1, "two concurrent builders must build once"
    assert len(results) == 2 and all(torch.equal(r["x"], PATTERN) for r in results)


def half_then_fail(stored, target):
    """Stand-in for torch.save that is interrupted half-way through writing ``target``."""
    with open(target, "wb") as handle:
        handle.write(b"PK\x03\x04 the first half of a tensor file")
    raise KeyboardInterrupt("interrupted while writing")


def test_a_write_interrupted_half_way_leaves_the_old_cache_or_none(tmp_path, monkeypatch):
    path = tmp_path / "cache.pt"
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(torch, "save", half_then_fail)
        cached_tensors(path, Builds(), SPEC)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.pt.lock"], "no file, not a truncated one"

    cached_tensors(path, Builds(), SPEC)
    old = {p.name: p.read_bytes() for p in (path, record_path(path))}
    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(torch, "save", half_then_fail)
        cached_tensors(path, lambda: {"x": PATTERN[:10].clone()}, {"x": (torch.uint8, (10,))})  # a rebuild
    assert {p.name: p.read_bytes() for p in (path, record_path(path))} == old, "the old cache, intact"
    assert not list(tmp_path.glob("*.partial-*"))
    assert torch.equal(cached_tensors(path, Builds(), SPEC)["x"], PATTERN)
