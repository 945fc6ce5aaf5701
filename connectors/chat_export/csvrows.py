"""CSV rows with the byte span each one occupies, so CSV exports resume at a row boundary."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV row. ``complete`` is False for a last row cut off inside a quoted field."""

    values: list[str]
    start: int
    end: int
    terminated: bool
    error: str = ""


class _Lines:
    """Decoded lines for :mod:`csv`, remembering how many bytes have been handed out."""

    def __init__(self, stream: IO[bytes], offset: int, encoding: str) -> None:
        stream.seek(offset)
        self.stream = stream
        self.position = offset
        self.encoding = encoding
        self.terminated = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        raw = self.stream.readline()
        if not raw:
            raise StopIteration
        self.position += len(raw)
        self.terminated = raw.endswith(b"\n")
        return raw.decode(self.encoding, "replace")


def csv_rows(stream: IO[bytes], offset: int, encoding: str, delimiter: str = ",") -> Iterator[Row]:
    """Rows from ``offset`` (a row boundary) on; malformed rows come back with ``error`` set."""
    lines = _Lines(stream, offset, encoding)
    while True:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        start = lines.position
        try:
            for values in reader:
                yield Row(values, start, lines.position, lines.terminated)
                start = lines.position
            return
        except csv.Error as exc:
            yield Row([], start, lines.position, lines.terminated, error=f"malformed CSV: {exc}")
