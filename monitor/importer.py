"""``yuqing import PATH``: read a chat export once, outside the daemon, into the database.

The chat-export connector does the parsing (format detected per file, or forced with
``--format``); every batch goes through the same store-analyse-ticket transaction as the daemon
(:func:`monitor.pipeline.process_batch`). Ids are stable, so importing a file twice, or importing
a file the daemon already read under the same source name, stores nothing twice. The source's
checkpoint is left alone: a one-off import never moves the daemon's position. Alerts are not
routed unless ``--alert`` is given - paging people about last year's chat history helps no one.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from connectors.chat_export import ChatExportConfig, ChatExportConnector, GenericMapping
from monitor.cli import CliError
from monitor.message import Batch, Checkpoint

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
FORMATS = ("auto", "telegram", "whatsapp", "wechat", "slack", "generic", "box-csv")
SOURCE_KIND = "chat_export"


@dataclass(frozen=True, slots=True)
class Stored:
    """What storing one batch did."""

    new: int
    duplicates: int
    quarantined: int


class BatchSink(Protocol):
    """Stores one batch for the import's source and says what was new."""

    def __call__(self, batch: Batch) -> Stored: ...


@dataclass(frozen=True, slots=True)
class ImportSummary:
    files: int
    recognised: int
    imported: int
    duplicates: int
    quarantined: int
    seconds: float

    @property
    def rate(self) -> float:
        return (self.imported + self.duplicates) / self.seconds if self.seconds > 0 else 0.0


def bytes_done(checkpoint: Checkpoint, sizes: Mapping[str, int]) -> int:
    """How many bytes of the input the checkpoint covers (for the progress bar)."""
    done = 0
    for key, state in (checkpoint.get("files") or {}).items():
        if key in sizes:
            done += sizes[key] if state.get("done") else min(int(state.get("offset", 0)), sizes[key])
    return done


def run_import(connector: ChatExportConnector, sink: BatchSink, *, batch_size: int = 1000,
               progress: Callable[[int, int], None] | None = None) -> ImportSummary:
    """Import everything under the connector's path; ``progress(done_bytes, total_bytes)``."""
    started = time.monotonic()
    sizes = {f.key: f.size for f in connector.files()}
    total = sum(sizes.values())
    imported = duplicates = quarantined = 0
    checkpoint: Checkpoint = {}
    for batch in connector.fetch(None, batch_size=batch_size):
        stored = sink(batch)
        imported, duplicates = imported + stored.new, duplicates + stored.duplicates
        quarantined += stored.quarantined
        checkpoint = batch.checkpoint
        if progress is not None:
            progress(bytes_done(checkpoint, sizes), total)
    files = checkpoint.get("files") or {}
    return ImportSummary(
        files=len(sizes),
        recognised=sum(1 for state in files.values() if state.get("format")),
        imported=imported,
        duplicates=duplicates,
        quarantined=quarantined,
        seconds=time.monotonic() - started,
    )


def pipeline_sink(config: Any, source_name: str, *, alert: bool) -> BatchSink:
    """Store through the daemon's pipeline, into the configured database."""
    from monitor.analysis.engine import load_analyzer
    from monitor.cli import open_database
    from monitor.pipeline import process_batch
    from monitor.runtime import build_context

    db = open_database(config)
    sentiment = config.rules.sentiment.settings() if config.rules.sentiment else None
    analyzer = load_analyzer(config.rules.paths, sentiment=sentiment)  # as the daemon does
    context = build_context(config, db, analyzer, alerting=alert)

    def store(batch: Batch) -> Stored:
        stats = process_batch(context, source_name, SOURCE_KIND, batch, advance_checkpoint=False)
        return Stored(stats.new, stats.duplicates, stats.quarantined)

    return store


def _mapping(pairs: list[str] | None) -> GenericMapping | None:
    if not pairs:
        return None
    fields = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    bad = [pair for pair in pairs if "=" not in pair]
    if bad:
        raise CliError(f"--map 的格式是 FIELD=COLUMN / --map takes FIELD=COLUMN, got {', '.join(bad)}")
    try:
        return GenericMapping(**fields)
    except ValidationError as exc:
        raise CliError(f"--map: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    """A pydantic error as one line: ``field: message; field: message`` (no URLs, no input dumps)."""
    names = {"missing": "缺少 / missing", "extra_forbidden": "未知字段 / unknown field"}
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {names.get(error['type'], error['msg'])}"
        for error in exc.errors()
    )


def connector_for(args: argparse.Namespace, configured: Mapping[str, Any]) -> ChatExportConnector:
    """The connector for ``args.path``: settings from the command line over a configured source's."""
    base: dict[str, Any] = {}
    settings = configured.get(args.source)
    if isinstance(settings, ChatExportConfig):
        base = settings.model_dump(exclude={"path"})
    overrides: dict[str, Any] = {"path": args.path, "format": args.format}
    if args.timezone:
        overrides["timezone"] = args.timezone
    if args.date_order:
        overrides["date_order"] = args.date_order
    mapping = _mapping(args.map)
    if mapping is not None:
        overrides["mapping"] = mapping
    if args.format == "generic" and mapping is None and base.get("mapping") is None:
        raise CliError("--format generic 需要列映射 / needs a column mapping: --map text=COLUMN --map created_at=COLUMN")
    try:
        config = ChatExportConfig(**{**base, **overrides})
    except ValidationError as exc:
        raise CliError(f"import: {_problems(exc)}") from None
    return ChatExportConnector(args.source, config)


def _progress_bar(enabled: bool) -> tuple[Any, Callable[[int, int], None] | None]:
    if not enabled:
        return None, None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    bar = Progress(TextColumn("importing"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                   TimeRemainingColumn(), transient=True)
    task = bar.add_task("import", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


def cmd_import(args: argparse.Namespace) -> int:
    from monitor.cli import load_or_exit
    from monitor.errors import ConfigError

    if not args.path.exists():
        raise CliError(f"{args.path}: 文件或目录不存在 / no such file or directory")
    if args.format == "box-csv":  # feedback-box slips, not a chat export (docs/intake.zh.md)
        from monitor.cli_intake import cmd_import_boxes

        return cmd_import_boxes(args)
    config = load_or_exit(args)
    configured = {s.name: s.settings for s in config.sources if s.kind == SOURCE_KIND}
    try:
        connector = connector_for(args, configured)
        sink = pipeline_sink(config, args.source, alert=args.alert)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return EXIT_CONFIG
    show = not args.no_progress and sys.stderr.isatty()
    bar, update = _progress_bar(show)
    if bar is not None:
        with bar:
            summary = run_import(connector, sink, progress=update)
    else:
        summary = run_import(connector, sink)
    print_summary(args.path, args.source, summary)
    if args.format != "auto" and not (summary.imported or summary.duplicates):
        # nothing read as the forced format: a wrong format quarantines the whole file (as "cut
        # off or corrupt"), which is no import; the rows stay for `quarantine list/discard`
        raise CliError(
            f"{args.path}: 按 {args.format} 格式没有读到任何消息 / read no messages as {args.format}"
            " — 格式不对？去掉 --format 自动识别 / wrong format? drop --format to detect it"
        )
    return EXIT_OK if summary.recognised else EXIT_FAIL


def print_summary(path: Path, source: str, summary: ImportSummary) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{path} → source {source!r}", show_header=False)
    hint = "  (see: yuqing quarantine list)" if summary.quarantined else ""
    rows = [
        ("files", f"{summary.files} ({summary.recognised} recognised)"),
        ("imported", f"{summary.imported:,}"),
        ("duplicates", f"{summary.duplicates:,}"),
        ("quarantined", f"{summary.quarantined:,}{hint}"),
        ("time", f"{summary.seconds:.1f} s, {summary.rate:,.0f} messages/s"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    Console(soft_wrap=True).print(table)
    if not summary.recognised:
        print(f"{path}: no chat export recognised (try --format)", file=sys.stderr)


def _path(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("路径为空 / empty path (give a file or folder; '.' for this folder)")
    return Path(value)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``import`` to the ``yuqing`` command line."""
    parser = subparsers.add_parser(
        "import",
        help="import a chat export once (Telegram, WhatsApp, WeChat, Slack, CSV/JSONL)",
        description="Read a chat export file, zip or folder once and store its messages; "
        "re-importing stores nothing twice.",
    )
    parser.add_argument("path", type=_path, help="export file, zip archive or folder")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="force a format (default: detect)")
    parser.add_argument("--source", default="chat-import",
                        help="source name to store under; a configured chat_export source's settings apply "
                        "(default: chat-import)")
    parser.add_argument("--timezone", help="zone of timestamps without one (default Asia/Shanghai)")
    parser.add_argument("--date-order", choices=("auto", "dmy", "mdy", "ymd"),
                        help="WhatsApp numeric date order (default: decided per file)")
    parser.add_argument("--map", action="append", metavar="FIELD=COLUMN",
                        help="generic CSV/JSONL mapping, e.g. --map text=body --map created_at=ts")
    parser.add_argument("--alert", action="store_true", help="route findings to the alert targets")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=cmd_import)
