"""sha256 of files, checked before anything is unpickled (datasets, shipped data, model weights)."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO


def sha256_of_stream(handle: BinaryIO, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of what is left to read in the binary file ``handle``, read in chunks."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(chunk_size), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path: Path, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of the file at ``path``, read in chunks (archives can be large)."""
    with open(path, "rb") as handle:
        return sha256_of_stream(handle, chunk_size)


def verify_sha256(path: Path, expected: str,
                  remedy: str = "Delete it and copy or download it again.") -> None:
    """Raise ``ValueError`` naming the file, both digests and ``remedy`` unless the digests match."""
    actual = sha256_of(path)
    if actual != expected:
        raise ValueError(f"{path} is corrupt or not the expected file: sha256 {actual}, "
                         f"expected {expected}. {remedy}")
