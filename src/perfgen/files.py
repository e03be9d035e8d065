"""Files written whole: the open data's block cache, read by later builds; and slices of such
files read only when they are needed (``FileSlice``).

A file is written into a temporary file beside it (``<name>.<pid>.tmp``, which the caches'
pruning leaves alone) and renamed, so a reader never sees half a file. Its folder is made only
when writing into it fails: asking for it before each of thousands of files cost a third of a
millisecond each on a virtual disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


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


@dataclass(frozen=True, slots=True)
class FileSlice:
    """``size`` bytes of an open file from ``offset``, read when asked for (``read``): the open
    data's encoded rows wait in a temporary file until a file made of them is written, instead
    of all being held in memory at once."""

    file: BinaryIO
    offset: int
    size: int

    def part(self, start: int, stop: int) -> FileSlice:
        """Bytes ``start`` to ``stop`` of this slice."""
        return FileSlice(self.file, self.offset + start, stop - start)

    def read(self) -> bytes:
        """The bytes; ``OSError`` if the file is shorter than it was."""
        self.file.seek(self.offset)
        data = self.file.read(self.size)
        if len(data) != self.size:
            # A file with no name (Linux makes temporary files unnamed) is not named by its number.
            name = self.file.name if isinstance(self.file.name, str) else None
            raise OSError(0, "a temporary file of the build was cut short while it was read", name)
        return data


def spill_file(folder: Path | None = None) -> BinaryIO:
    """A temporary file (removed when closed) to keep ``FileSlice`` bytes in: in ``folder``
    (made if missing), or the system's temporary folder if there is none or it cannot be
    written (a cache folder costs time, never the output)."""
    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return tempfile.TemporaryFile(prefix="perfgen-", dir=folder)
        except OSError:
            pass
    return tempfile.TemporaryFile(prefix="perfgen-")


def prune(folder: Path, unwanted: Callable[[Path], bool]) -> None:
    """Remove each entry of a cache's ``folder`` (a file or a folder) that ``unwanted`` names;
    one another build removed meanwhile is passed over. For the caches that keep the latest
    build's entries only."""
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        try:
            if unwanted(path):
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
        except FileNotFoundError:
            pass


def abandoned(path: Path) -> bool:
    """A temporary entry an hour old: left by a build that was stopped while writing it."""
    return path.stat().st_mtime < time.time() - 3600
