"""sha256 of files, checked before anything is unpickled (datasets, shipped data, model weights)."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``, read in chunks (archives can be large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str,
                  remedy: str = "Delete it and copy or download it again.") -> None:
    """Raise ``ValueError`` naming the file, both digests and ``remedy`` unless the digests match."""
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(f"{path} is corrupt or not the expected file: sha256 {actual}, "
                         f"expected {expected}. {remedy}")
