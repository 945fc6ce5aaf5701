"""Local source paths must exist and be readable: a missing folder is an error, not an empty source."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.errors import SourceMissingError


def path_problem(path: Path, *, kind: str = "dir") -> str | None:
    """Why ``path`` cannot be read as a folder (``kind="dir"``) or a file (``"file"``), or None."""
    try:
        if not path.exists():
            return f"{path} does not exist"
        if kind == "dir" and not path.is_dir():
            return f"{path} is not a folder"
        if kind == "file" and not path.is_file():
            return f"{path} is not a file"
        mode = os.R_OK | (os.X_OK if kind == "dir" else 0)
        if not os.access(path, mode):
            return f"{path} is not readable (permissions)"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    return None


def folder_problem(path: Path) -> str | None:
    return path_problem(path, kind="dir")


def require_path(path: Path, *, what: str, kind: str = "dir") -> None:
    """Raise :class:`SourceMissingError` naming ``what`` when ``path`` cannot be read."""
    problem = path_problem(path, kind=kind)
    if problem is not None:
        raise SourceMissingError(f"{what}: {problem}")


def require_folder(path: Path, *, what: str) -> None:
    require_path(path, what=what, kind="dir")
