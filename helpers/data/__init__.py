"""Data sets and where they live: paths, sha256 checks, verified tensor caches and archive extraction,
the rainfall stand-in, CIFAR-10 (with its channel statistics), the cat/car subset, and image-tensor
operations. Imports only :mod:`helpers.runtime`."""
