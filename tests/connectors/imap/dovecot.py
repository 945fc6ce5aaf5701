"""A throw-away Dovecot IMAP server on 127.0.0.1 for tests and the benchmark.

Everything lives in one temporary directory: configuration, passwd-file, Maildir, logs, a
self-signed certificate (for the TLS and STARTTLS tests). The server runs in the foreground
(``dovecot -F``) as a child process, so it can be stopped, restarted on the same port and its
folders renumbered (UIDVALIDITY reset) while a test runs.

Run as root, mail belongs to ``nobody`` and Dovecot's own processes run as ``dovecot`` /
``dovenull`` (created by the Debian package); run as another user, everything runs as that user.
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from imapclient import IMAPClient

USER = "alice@example.com"
PASSWORD = "s3cret-pässword-不要泄露"
TOKEN = "ya29.test-oauth-token-不要泄露"  # a second account logs in with XOAUTH2 using this token
OAUTH_USER = "bob@example.com"
ASCII_USER, ASCII_PASSWORD = "carol@example.com", "carol-ascii-password"  # for clients that only LOGIN


_SEQUENCE = itertools.count()


class DovecotMissing(RuntimeError):
    """dovecot is not installed (apt-get install dovecot-imapd)."""


def find_dovecot() -> str:
    path = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if path is None:
        raise DovecotMissing("dovecot binary not found: apt-get install -y dovecot-imapd openssl")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Dovecot:
    """One Dovecot instance; call :meth:`start` and finally :meth:`cleanup`."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self.binary = find_dovecot()
        self.root = Path(tempfile.mkdtemp(prefix="yuqing-dovecot-"))
        self.root.chmod(0o755)  # the mail user (nobody) must traverse it
        self.port = free_port()
        self.tls_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            self.mail_uid, self.mail_gid = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
            self.internal_user, self.login_user = "dovecot", "dovenull"
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.internal_user = self.login_user = pwd.getpwuid(os.getuid()).pw_name
        self._make_cert()
        self._write_config()

    # -- setup ----------------------------------------------------------------------------------
    def _make_cert(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(self.root / "key.pem"), "-out", str(self.root / "cert.pem")],
            check=True, capture_output=True,
        )

    @property
    def ca_file(self) -> Path:
        return self.root / "cert.pem"

    def _write_config(self) -> None:
        mail = self.root / "mail"
        mail.mkdir()
        os.chown(mail, self.mail_uid, self.mail_gid)
        (self.root / "passwd").write_text(
            f"{USER}:{{PLAIN}}{PASSWORD}::::::\n{OAUTH_USER}:{{PLAIN}}{TOKEN}::::::\n"
            f"{ASCII_USER}:{{PLAIN}}{ASCII_PASSWORD}::::::\n",
            encoding="utf-8",
        )
        unprivileged = "" if os.geteuid() == 0 else (
            "service imap-login {\n  chroot =\n}\nservice anvil {\n  chroot =\n}\n"
        )
        (self.root / "dovecot.conf").write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
ssl = yes
ssl_cert = <{self.root}/cert.pem
ssl_key = <{self.root}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
mail_location = maildir:{mail}/%u
default_internal_user = {self.internal_user}
default_login_user = {self.login_user}
first_valid_uid = 1
first_valid_gid = 1
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.root}/passwd
  default_fields = uid={self.mail_uid} gid={self.mail_gid} home={mail}/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
{unprivileged}""",
            encoding="utf-8",
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        log = open(self.root / "stderr.log", "ab")  # noqa: SIM115 - kept open for the child's lifetime
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")], stdout=log, stderr=log
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot exited: {(self.root / 'stderr.log').read_text()}")
            with contextlib.suppress(OSError), socket.create_connection((self.host, self.port), 0.2):
                return
            time.sleep(0.05)
        raise RuntimeError("dovecot did not start listening within 15 s")

    def _children(self) -> list[int]:
        assert self.process is not None
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.process.pid:
                    found.append(int(stat.parent.name))
        return found

    def stop(self) -> None:
        """Stop like a host going down: the master and every imap/auth/log process of this instance.

        (Dovecot's master alone leaves running imap processes serving their clients.)
        """
        if self.process is None:
            return
        children = self._children()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process = None
        # wait until the port is free again (the master closes listeners on exit)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), 0.2):
                    time.sleep(0.05)
            except OSError:
                return

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- mail -----------------------------------------------------------------------------------
    def client(self, user: str = USER) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.plain_login(user, {USER: PASSWORD, OAUTH_USER: TOKEN, ASCII_USER: ASCII_PASSWORD}[user])
        return client

    def create_folder(self, folder: str, user: str = USER) -> None:
        with contextlib.closing(_Closing(self.client(user))) as admin:
            admin.client.create_folder(folder)

    def append(self, folder: str, messages: Iterable[bytes]) -> int:
        count = 0
        with contextlib.closing(_Closing(self.client())) as admin:
            for raw in messages:
                admin.client.append(folder, raw)
                count += 1
        return count

    def maildir(self, folder: str, user: str = USER) -> Path:
        base = self.root / "mail" / user
        return base if folder == "INBOX" else base / f".{folder}"

    def deliver(self, folder: str, messages: Iterable[bytes], user: str = USER) -> int:
        """Write straight into the Maildir's ``new/`` (fast; Dovecot picks the files up)."""
        new = self.maildir(folder, user) / "new"
        if not new.is_dir():
            self.create_folder(folder, user)
        count = 0
        stamp = int(time.time())
        for raw in messages:
            path = new / f"{stamp}.M{next(_SEQUENCE)}P{os.getpid()}.yuqing-test"
            path.write_bytes(raw)
            os.chown(path, self.mail_uid, self.mail_gid)
            count += 1
        return count

    def reset_uidvalidity(self, folder: str) -> None:
        """Renumber ``folder`` as a restored backup would: new UIDVALIDITY, new UIDs, same mail."""
        self.stop()
        directory = self.maildir(folder)
        for path in directory.iterdir():
            if path.name.startswith(("dovecot-uidlist", "dovecot.index")):
                path.unlink()
        self.start()

    def uidvalidity(self, folder: str) -> int:
        with contextlib.closing(_Closing(self.client())) as admin:
            return int(admin.client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])


class _Closing:
    def __init__(self, client: IMAPClient) -> None:
        self.client = client

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.logout()
