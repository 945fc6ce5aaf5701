"""Packaging: a wheel builds from a clean copy in a fresh virtualenv, with everything the daemon needs."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SKIP = shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache")


@pytest.mark.slow
def test_wheel_builds_in_a_clean_venv(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=_SKIP)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    pip = env_dir / "bin" / "pip"
    out = tmp_path / "dist"
    # build isolation: pip fetches the declared build-system requirements into a fresh environment
    result = subprocess.run(
        [str(pip), "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (wheel,) = out.glob("yuqing-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "monitor/py.typed",
        "connectors/py.typed",
        "monitor/storage/migrations/env.py",
        "monitor/storage/migrations/versions/0001_initial_schema.py",
        "monitor/alerts/tpl/text.txt.j2",
        "monitor/analysis/sentiment/model.json",
    ):
        assert needed in names, f"{needed} missing from {wheel.name}"
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Provides-Extra: postgresql" in text and "Provides-Extra: mysql" in text
    assert not any(name.startswith(("tests/", "bench/")) for name in names)


def test_setup_scripts_install_with_the_constraints_file() -> None:
    constraints = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pins = {line.split("==")[0].lower() for line in constraints if "==" in line}
    for package in ("sqlalchemy", "pydantic", "jieba", "apscheduler", "psycopg", "pymysql", "pytest"):
        assert package in pins, f"{package} is not pinned in constraints.txt"
    for script in ("scripts/test", "scripts/demo"):
        assert "-c constraints.txt" in (ROOT / script).read_text(encoding="utf-8"), script


def test_heavy_clients_are_imported_lazily() -> None:
    """Building the whole command line loads no network client or database driver."""
    code = (
        "import sys, monitor.cli; monitor.cli.build_parser(); "
        "print(','.join(m for m in ('praw', 'tweepy', 'imapclient', 'apprise', 'psycopg', 'pymysql', "
        "'feedparser', 'cysystemd') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
