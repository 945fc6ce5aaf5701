"""A file cache of a segmenter's word table (:data:`~monitor.analysis.dictcut.Table`).

Building a :class:`~monitor.analysis.segment.Segmenter` loads jieba's whole dictionary (~500,000
entries from jieba's own cache, ~0.5 s), adds the rule set's words at jieba's suggested
frequencies and hands the result to jieba-rs (~0.4 s): ~0.9 s of CPU at every start and every rule
reload, for a table that only changes when the words, the extra dictionaries or jieba do. The final
table (~350,000 words and frequencies, ~6.5 MB) is kept in one file and read back in ~0.04 s; a
hit skips jieba's Python dictionary altogether (and its ~75 MB while it is built).

The key covers everything the table depends on: this format, jieba's version and its dictionary
file (path, size, modification time), the words in order and each extra dictionary's bytes. One
file holds one table (the newest build): a daemon has one rule set, and a miss only costs the
build it replaces. The file lives in a directory of the current user's (mode 0700, as
``tempfile`` would make it) under the temporary directory, like jieba's own ``jieba.cache``; a
directory owned by someone else or open to others is not used. Writes go to a temporary file
renamed into place, so a reader sees a whole table or none; anything unreadable is a miss.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

import structlog

from monitor.analysis.dictcut import Table
from monitor.analysis.jieba_import import jieba

log = structlog.get_logger(__name__)

FORMAT = b"yuqing-dictcut-1"
FILE_NAME = "dictcut.marshal"


def cache_dir() -> Path:
    """``<tmp>/yuqing-<uid>``: the current user's, like jieba's cache next to it."""
    return Path(tempfile.gettempdir()) / f"yuqing-{os.geteuid()}"


def key(words: Sequence[str], dictionaries: Sequence[Path]) -> bytes | None:
    """What the table depends on, hashed; None when a file cannot be read (no caching: the build
    reports the problem as before)."""
    digest = hashlib.sha256(FORMAT)
    base = Path(jieba.__file__).parent / jieba.DEFAULT_DICT_NAME  # what jieba.Tokenizer() loads
    try:
        info = base.stat()
        extra = [(str(path), path.read_bytes()) for path in dictionaries]
    except OSError:
        return None
    version = str(getattr(jieba, "__version__", ""))
    digest.update(marshal.dumps((version, str(base), info.st_size, info.st_mtime_ns, list(words), extra)))
    return digest.digest()


def _private(folder: Path) -> bool:
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o077


def load(wanted: bytes) -> Table | None:
    """The cached table for ``wanted``, or None."""
    folder = cache_dir()
    if not _private(folder):
        return None
    try:
        data = marshal.loads((folder / FILE_NAME).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not (isinstance(data, tuple) and len(data) == 3 and data[0] == wanted):
        return None
    words, counts = data[1], data[2]
    if not (isinstance(words, list) and isinstance(counts, list) and len(words) == len(counts)):
        return None
    return words, counts


def store(wanted: bytes, table: Table) -> None:
    """Keep ``table`` as the cached one (best effort: a failure is logged, never raised)."""
    folder = cache_dir()
    if not _private(folder):
        return
    try:
        fd, temp = tempfile.mkstemp(prefix=".dictcut-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                marshal.dump((wanted, table[0], table[1]), fh)
            os.replace(temp, folder / FILE_NAME)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError as exc:
        log.warning("dictcut_cache_not_written", error=f"{type(exc).__name__}: {exc}")
