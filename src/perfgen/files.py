"""Files written whole: the chart cache and the open data's block cache, read by later builds.

A file is written into a temporary file beside it (``<name>.<pid>.tmp``, which the caches'
pruning leaves alone) and renamed, so a reader never sees half a file. Its folder is made only
when writing into it fails: asking for it before each of thousands of files cost a third of a
millisecond each on a virtual disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def write_whole(path: Path, parts: Iterable[bytes]) -> None:
    """Write ``parts`` one after another as the file ``path``; raises ``OSError`` as writing does."""
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    try:
        file = temporary.open("wb")
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = temporary.open("wb")
    with file:
        file.writelines(parts)
    os.replace(temporary, path)
