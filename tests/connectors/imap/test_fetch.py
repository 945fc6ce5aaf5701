"""Reading a real Dovecot: batches, size cap, broken mail, restarts, renumbering, post-store actions."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from structlog.testing import capture_logs

from connectors.imap import ImapConnector
from monitor.errors import BadInputError, ConfigError, UnavailableError
from monitor.message import Batch, Message
from tests.connectors.conformance import drain
from tests.connectors.imap.conftest import make_mail
from tests.connectors.imap.dovecot import Dovecot

Build = Callable[..., ImapConnector]


class Store:
    """What the core does with batches: dedupe by (source, external_id), keep the last checkpoint."""

    def __init__(self) -> None:
        self.messages: dict[tuple[str, str], Message] = {}
        self.quarantined: list[str] = []
        self.checkpoint: dict[str, object] | None = None
        self.replays = 0

    def commit(self, batch: Batch) -> None:
        for message in batch.messages:
            key = (message.source, message.external_id)
            self.replays += key in self.messages
            self.messages.setdefault(key, message)
        self.quarantined.extend(q.reason for q in batch.quarantined)
        self.checkpoint = batch.checkpoint

    def titles(self) -> list[str]:
        return sorted(m.title for m in self.messages.values())


def test_batches_follow_uid_order_and_sizes(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    dovecot.append(folder, (make_mail(i) for i in range(7)))
    messages, checkpoint, batches = drain(make_connector(dovecot, (folder,)), None, batch_size=3)
    assert [len(b) for b in batches] == [3, 3, 1]
    assert [m.title for m in messages] == [f"订单问题 #{i}" for i in range(7)]
    assert checkpoint is not None and checkpoint["folders"][folder]["uid"] == 7
    assert all(m.raw_ref.endswith(f";UID={i + 1}") for i, m in enumerate(messages))


def test_several_folders_have_their_own_cursor(dovecot: Dovecot, make_connector: Build) -> None:
    dovecot.create_folder("multi-a")
    dovecot.create_folder("投诉-b")
    dovecot.append("multi-a", [make_mail(1), make_mail(2)])
    dovecot.append("投诉-b", [make_mail(3)])
    connector = make_connector(dovecot, ("multi-a", "投诉-b"))
    messages, checkpoint, _ = drain(connector, None)
    assert len(messages) == 3
    assert checkpoint is not None and set(checkpoint["folders"]) == {"multi-a", "投诉-b"}
    dovecot.append("投诉-b", [make_mail(4)])
    again, _, _ = drain(connector, checkpoint)
    assert [m.title for m in again] == ["订单问题 #4"]


def test_oversized_and_broken_mail_are_quarantined_and_the_cursor_moves_on(
    dovecot: Dovecot, folder: str, make_connector: Build
) -> None:
    big = make_mail(2, body="大" * 40_000)
    broken = b"\x00\x01\x02 not a mail at all\r\n"
    dovecot.append(folder, [make_mail(1), big, broken, make_mail(4)])
    connector = make_connector(dovecot, (folder,), max_message_bytes=20_000, quarantine_keep_bytes=1000)
    batches = list(connector.fetch(None))
    quarantined = [q for b in batches for q in b.quarantined]
    assert [m.title for b in batches for m in b.messages] == ["订单问题 #1", "订单问题 #4"]
    assert len(quarantined) == 2
    oversized, garbage = quarantined
    assert "exceeds max_message_bytes" in oversized.reason
    assert len(oversized.raw) == 1000 and oversized.size > 100_000
    # Dovecot stores NUL as 0x80; either way there is no header to read
    assert garbage.reason == "no e-mail headers found" and b"not a mail at all" in garbage.raw
    assert batches[-1].checkpoint["folders"][folder]["uid"] == 4
    assert list(connector.fetch(batches[-1].checkpoint)) == []
    # quarantine retry: the kept prefix is refused, a complete mail gets the id it would have had
    assert oversized.raw_ref.endswith(";UID=2/;PARTIAL=0.1000")
    with pytest.raises(BadInputError, match="prefix"):
        connector.parse_raw(oversized.raw, oversized.raw_ref)
    admin = dovecot.client()
    admin.select_folder(folder, readonly=True)
    first = admin.fetch([1], [b"BODY.PEEK[]"])[1][b"BODY[]"]
    admin.logout()
    stored = batches[0].messages[0]
    assert connector.parse_raw(first, stored.raw_ref).external_id == stored.external_id


def test_missing_folder_is_a_config_error(dovecot: Dovecot, make_connector: Build) -> None:
    with pytest.raises(ConfigError, match="no-such-folder"):
        list(make_connector(dovecot, ("no-such-folder",)).fetch(None))


def test_server_restart_mid_fetch_loses_and_repeats_nothing(own_dovecot: Dovecot, make_connector: Build) -> None:
    own_dovecot.create_folder("busy")
    own_dovecot.append("busy", (make_mail(i) for i in range(60)))
    connector = make_connector(own_dovecot, ("busy",))
    store = Store()
    with capture_logs() as logs:
        for number, batch in enumerate(connector.fetch(None, batch_size=10)):
            store.commit(batch)
            if number == 1:
                own_dovecot.restart()  # the connection the generator holds is gone
    assert any(e["event"] == "imap.reconnect" for e in logs), logs
    assert store.replays == 0
    assert store.titles() == sorted(f"订单问题 #{i}" for i in range(60))
    assert store.checkpoint is not None and store.checkpoint["folders"]["busy"]["uid"] == 60


def test_server_down_gives_unavailable_and_the_checkpoint_resumes(own_dovecot: Dovecot, make_connector: Build) -> None:
    own_dovecot.create_folder("down")
    own_dovecot.append("down", (make_mail(i) for i in range(20)))
    connector = make_connector(own_dovecot, ("down",), retries=2)
    store = Store()
    with pytest.raises(UnavailableError):
        for batch in connector.fetch(None, batch_size=5):
            store.commit(batch)
            own_dovecot.stop()
    assert len(store.messages) == 5
    own_dovecot.start()
    for batch in connector.fetch(store.checkpoint, batch_size=5):
        store.commit(batch)
    assert store.replays == 0 and len(store.messages) == 20


@pytest.mark.parametrize("known_lookup", [False, True], ids=["core-dedupes", "known-ids-lookup"])
def test_uidvalidity_reset_resyncs_without_duplicates(
    own_dovecot: Dovecot, make_connector: Build, known_lookup: bool
) -> None:
    own_dovecot.create_folder("renumbered")
    own_dovecot.append("renumbered", (make_mail(i) for i in range(12)))
    connector = make_connector(own_dovecot, ("renumbered",))
    store = Store()
    if known_lookup:
        connector.use_known_ids(lambda ids: {i for (_, i) in store.messages if i in set(ids)})
    for batch in connector.fetch(None, batch_size=5):
        store.commit(batch)
    before = own_dovecot.uidvalidity("renumbered")
    own_dovecot.reset_uidvalidity("renumbered")
    assert own_dovecot.uidvalidity("renumbered") != before
    own_dovecot.append("renumbered", [make_mail(100), make_mail(101)])
    fetched: list[Message] = []
    with capture_logs() as logs:
        for batch in connector.fetch(store.checkpoint, batch_size=5):
            fetched.extend(batch.messages)
            store.commit(batch)
    assert any(e["event"] == "imap.resync" for e in logs)
    assert len(store.messages) == 14  # nothing duplicated, the two new ones added
    assert store.checkpoint is not None
    assert store.checkpoint["folders"]["renumbered"]["uidvalidity"] != before
    if known_lookup:  # bodies of stored mail are not even fetched again
        assert sorted(m.title for m in fetched) == ["订单问题 #100", "订单问题 #101"]
    assert list(connector.fetch(store.checkpoint)) == []


def test_after_commit_flags_seen_and_never_deletes(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    dovecot.append(folder, (make_mail(i) for i in range(4)))
    connector = make_connector(dovecot, (folder,), after_store="seen")
    batches = list(connector.fetch(None, batch_size=2))
    admin = dovecot.client()
    admin.select_folder(folder, readonly=True)
    assert admin.search(["SEEN"]) == []  # fetching alone never marks mail read (BODY.PEEK)
    connector.after_commit(batches[0])
    admin.noop()  # let this session see the other session's flag changes
    assert admin.search(["SEEN"]) == [1, 2]
    connector.after_commit(batches[1])
    admin.noop()
    assert admin.search(["SEEN"]) == [1, 2, 3, 4] and admin.search(["DELETED"]) == []
    admin.logout()


def test_after_commit_moves_to_a_folder(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    dovecot.create_folder(folder + "-done")
    dovecot.append(folder, (make_mail(i) for i in range(3)))
    connector = make_connector(dovecot, (folder,), after_store="move", move_to=folder + "-done")
    for batch in connector.fetch(None, batch_size=2):
        connector.after_commit(batch)
    admin = dovecot.client()
    assert admin.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"] == 0
    assert admin.folder_status(folder + "-done", [b"MESSAGES"])[b"MESSAGES"] == 3
    admin.logout()


def test_stop_event_ends_fetch_between_batches(dovecot: Dovecot, folder: str, make_connector: Build) -> None:
    dovecot.append(folder, (make_mail(i) for i in range(6)))
    stop = threading.Event()
    got = []
    for batch in make_connector(dovecot, (folder,)).fetch(None, batch_size=2, stop=stop):
        got.append(batch)
        stop.set()
    assert len(got) == 1
