"""Keep large encoded attachments away from the MIME parser: a 21 MB mail must not cost 200 MB.

The stdlib parser turns a mail into text and keeps every body line as its own string before
joining them: about four to five times the mail's size at its peak. Almost all of a large mail is
base64 attachment data that we never read - we only list the attachment with its size. So before
parsing, every run of base64-looking lines longer than :data:`MIN_RUN` bytes is replaced by one
marker line; the parser sees a small mail. Afterwards an attachment's size is computed from its
run's length, and a text part whose body was elided (a huge base64 HTML body) gets its original
encoded text back before it is decoded, so no text is lost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message as StdMessage

MIN_RUN = 256 * 1024
_RUN = re.compile(rb"(?:^[A-Za-z0-9+/]{40,}={0,2}\r?\n)+", re.MULTILINE)
_MARKER = re.compile(r"YUQINGELIDED(\d+)X\r?\n?")


@dataclass
class Elided:
    """The mail as handed to the parser, and the runs cut out of it (views into the raw bytes)."""

    raw: bytes
    runs: list[memoryview] = field(default_factory=list)

    def restore(self, part: StdMessage) -> None:
        """Put a part's original encoded body back (text parts, which are decoded and read)."""
        payload = part.get_payload()
        if self.runs and isinstance(payload, str) and "YUQINGELIDED" in payload:
            part.set_payload(_MARKER.sub(lambda m: bytes(self.runs[int(m.group(1))]).decode("ascii"), payload))

    def size(self, part: StdMessage) -> int | None:
        """The decoded size of a base64 body with elided runs, or None when nothing was elided."""
        payload = part.get_payload()
        if not self.runs or not isinstance(payload, str) or "YUQINGELIDED" not in payload:
            return None
        chars, tail = 0, ""
        for index, piece in enumerate(_MARKER.split(payload)):
            if index % 2:
                run = self.runs[int(piece)]
                chars += _chars(run)
                tail = bytes(run[-8:]).decode("ascii").strip() or tail
            else:
                text = "".join(piece.split())
                chars += len(text)
                tail = text[-8:] or tail
        padding = tail.endswith("==") + tail.endswith("=")
        return max(0, chars * 3 // 4 - padding)


def elide(raw: bytes) -> Elided:
    """``raw`` with its long base64 runs replaced by markers (unchanged when it has none)."""
    if len(raw) < MIN_RUN:
        return Elided(raw)
    view = memoryview(raw)
    pieces: list[bytes] = []
    runs: list[memoryview] = []
    last = 0
    for match in _RUN.finditer(raw):
        start, end = match.span()
        if end - start < MIN_RUN:
            continue
        pieces.append(raw[last:start])
        pieces.append(b"YUQINGELIDED%dX\n" % len(runs))
        runs.append(view[start:end])
        last = end
    if not runs:
        return Elided(raw)
    pieces.append(raw[last:])
    return Elided(b"".join(pieces), runs)


def _chars(run: memoryview, chunk: int = 1 << 20) -> int:
    """Non-newline bytes of a large run, counted in chunks (no copy of the whole run)."""
    total = 0
    for start in range(0, len(run), chunk):
        piece = bytes(run[start : start + chunk])
        total += len(piece) - piece.count(b"\n") - piece.count(b"\r")
    return total
