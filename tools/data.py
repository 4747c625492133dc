"""``python -m tools.data``: build every data cache the notebooks read (``make data``), before a class or a test run.

The first notebook to need CIFAR-10 would otherwise build its caches mid-run (extracting and decoding the
60,000 images takes tens of seconds). Built here once, they also serve a whole class read-only: point the
students' ``$BACKPROP_LAB_SHARED_CACHE`` at this ``data/cache`` (see docs/data.md). Caches already built and
verified are only checked, so running it again takes seconds.
"""
from __future__ import annotations

import time

from helpers.data.catcar import load_catcar
from helpers.data.cifar import load_cifar10
from helpers.data.paths import cache_dir

CACHES = (("CIFAR-10 train", lambda: load_cifar10("train")), ("CIFAR-10 test", lambda: load_cifar10("test")),
          ("cat/car subset", load_catcar))


def main() -> None:
    for name, load in CACHES:
        started = time.monotonic()
        load()
        print(f"{name}: ready in {time.monotonic() - started:.1f} s", flush=True)
    print(f"caches in {cache_dir()}")


if __name__ == "__main__":
    main()
