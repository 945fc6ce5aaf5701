"""Checks ``check-config`` runs beyond validating the file: acknowledge links must open where the
people on call are (a phone, not the server's loopback)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

from monitor.config import AppConfig
from monitor.storage.db import Database

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def ack_link_problems(config: AppConfig) -> tuple[list[str], list[str]]:
    """(errors, warnings) about ``alerts.ack``: links enabled without a ``public_url`` are refused
    (they would point at ``listen:port`` on this host); a loopback ``public_url`` is warned about."""
    ack = config.alerts.ack
    if not ack.enabled:
        return [], []
    if not ack.public_url:
        return [
            "alerts.ack.public_url: 确认链接已启用但没有 public_url，群里的链接打不开 ack links are enabled "
            "without a public_url: links in WeCom/DingTalk would point at this server's "
            f"{ack.listen}:{ack.port}; set the address staff reach from their phones"
        ], []
    parts = urlsplit(ack.public_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"alerts.ack.public_url: {ack.public_url!r} is not an http(s) URL with a host"], []
    warnings = []
    if _is_loopback(parts.hostname):
        warnings.append(
            f"alerts.ack.public_url: {ack.public_url} 是本机回环地址，手机上打不开 is a loopback address: "
            "links in WeCom/DingTalk/Feishu will not open on a phone"
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        warnings.append(f"alerts.ack.public_url: {ack.public_url} is plain http; links carry signatures, prefer https")
    return [], warnings


def disabled_target_warnings(db: Database) -> list[str]:
    """Targets disabled in the database after rejecting our credentials (none if there is no
    database yet: ``check-config`` creates nothing)."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url

    from monitor.alerts.target_state import disabled_targets

    url = make_url(db.url)
    if url.get_backend_name() == "sqlite" and (not url.database or not Path(url.database).exists()):
        return []
    try:
        if not inspect(db.engine).has_table("target_states"):
            return []
        disabled = disabled_targets(db)
    except Exception as exc:  # the database is the daemon's business; check-config only reports
        return [f"database: cannot read target states ({type(exc).__name__})"]
    return [
        f"alerts.targets.{name}: 已停用 disabled after rejecting credentials ({reason[:160]}); "
        f"fix it, then: yuqing alerts enable {name}"
        for name, reason in sorted(disabled.items())
    ]
