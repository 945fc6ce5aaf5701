"""The connector conformance suite every connector passes.

Subclass :class:`ConnectorConformance` in a test module and provide the fixtures:

* ``connector`` - a connector configured against a source that already holds at least
  ``min_messages`` parseable messages;
* ``append_source`` - a callable that adds ``n`` new messages to that source and returns how many
  it added (so incremental reads can be checked);
* ``secret_values`` - the secret strings in the connector's config (may be empty), which must
  never appear in ``repr``/``describe``.

The suite checks: fetch yields Messages belonging to the source; checkpoints are JSON values that
round-trip; a drained source yields nothing more from its checkpoint; resuming from any batch's
checkpoint neither loses nor repeats messages; a replay from the start yields the same ids;
appended data is picked up incrementally; secrets are masked.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.base import Connector
from monitor.message import Batch, Checkpoint, Message


def drain(
    connector: Connector[Any], checkpoint: Checkpoint | None, *, batch_size: int = 500
) -> tuple[list[Message], Checkpoint | None, list[Batch]]:
    """Fetch every batch; return the messages, the last checkpoint and the batches."""
    batches = list(connector.fetch(checkpoint, batch_size=batch_size))
    messages = [m for b in batches for m in b.messages]
    last = batches[-1].checkpoint if batches else checkpoint
    return messages, last, batches


class ConnectorConformance:
    min_messages: int = 1

    def test_yields_messages_of_this_source(self, connector: Connector[Any]) -> None:
        messages, _, _ = drain(connector, None)
        assert len(messages) >= self.min_messages
        for message in messages:
            assert isinstance(message, Message)
            assert message.source == connector.name
            assert message.channel == connector.channel
            assert message.created_at.tzinfo is not None
            assert message.thread_key
        ids = [m.external_id for m in messages]
        assert len(ids) == len(set(ids)), "external ids must be unique within a source"

    def test_checkpoint_round_trips_through_json(self, connector: Connector[Any]) -> None:
        _, checkpoint, batches = drain(connector, None)
        assert batches, "a non-empty source yields at least one batch"
        for batch in batches:
            assert json.loads(json.dumps(batch.checkpoint)) == batch.checkpoint
        again, _, _ = drain(connector, json.loads(json.dumps(checkpoint)))
        assert again == [], "a drained source yields nothing new from its checkpoint"

    def test_resume_from_every_batch_neither_loses_nor_repeats(self, connector: Connector[Any]) -> None:
        everything, _, _ = drain(connector, None)
        _, _, small_batches = drain(connector, None, batch_size=1)
        assert len(small_batches) >= 2 or len(everything) < 2
        for index, batch in enumerate(small_batches):
            seen = [m.external_id for b in small_batches[: index + 1] for m in b.messages]
            rest, _, _ = drain(connector, batch.checkpoint, batch_size=1)
            resumed = seen + [m.external_id for m in rest]
            assert sorted(resumed) == sorted(m.external_id for m in everything)

    def test_replay_yields_the_same_ids(self, connector: Connector[Any]) -> None:
        first, _, _ = drain(connector, None)
        second, _, _ = drain(connector, None)
        assert [m.external_id for m in first] == [m.external_id for m in second]
        assert [m.thread_key for m in first] == [m.thread_key for m in second]

    def test_appended_data_is_picked_up_incrementally(
        self, connector: Connector[Any], append_source: Callable[[int], int]
    ) -> None:
        before, checkpoint, _ = drain(connector, None)
        added = append_source(3)
        assert added >= 1
        new, _, _ = drain(connector, checkpoint)
        assert len(new) == added
        assert not {m.external_id for m in new} & {m.external_id for m in before}

    def test_secrets_are_masked(self, connector: Connector[Any], secret_values: list[str]) -> None:
        text = repr(connector) + connector.describe() + repr(connector.config)
        for secret in secret_values:
            assert secret not in text
