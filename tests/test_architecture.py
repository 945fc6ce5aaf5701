"""Architecture and packaging checks that must hold at every commit."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_import_contracts_hold() -> None:
    """connectors never import tickets/alerts/storage; analysis never imports tickets/alerts."""
    result = subprocess.run([str(BIN / "lint-imports")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    """systemd-analyze verify on the unit, with the ExecStart binary stubbed at its install path."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is needed (Debian package systemd); .ci/run installs it"
    unit = (ROOT / "systemd" / "yuqing.service").read_text(encoding="utf-8")
    stub = tmp_path / "yuqing"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    (tmp_path / "yuqing.service").write_text(unit.replace("/opt/yuqing/venv/bin/yuqing", str(stub)))
    result = subprocess.run(
        [tool, "verify", "--man=no", str(tmp_path / "yuqing.service")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "yuqing.service" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_systemd_unit_exposure_is_at_most_2() -> None:
    """``systemd-analyze security --offline=true``: the hardened unit scores ≤ 2.0 ("OK")."""
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is needed (Debian package systemd); .ci/run installs it"
    result = subprocess.run(
        [tool, "security", "--offline=true", "--no-pager", str(ROOT / "systemd" / "yuqing.service")],
        capture_output=True,
        text=True,
    )
    found = re.search(r"Overall exposure level for yuqing\.service: (\d+\.\d+)", result.stdout)
    assert found, result.stdout + result.stderr
    assert float(found.group(1)) <= 2.0, result.stdout


def test_systemd_unit_is_notify_with_a_watchdog() -> None:
    unit = (ROOT / "systemd" / "yuqing.service").read_text(encoding="utf-8")
    for line in ("Type=notify", "NotifyAccess=main", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert f"\n{line}\n" in unit, line
    assert re.search(r"^WatchdogSec=\d+", unit, re.M)
    for directory in ("StateDirectory", "LogsDirectory", "ConfigurationDirectory"):
        assert re.search(rf"^{directory}=yuqing$", unit, re.M), directory
