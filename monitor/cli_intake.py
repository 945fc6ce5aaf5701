"""``yuqing intake keys add|rotate|revoke|list``: API keys of the website and app back ends."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from monitor.cli import CliError, load_or_exit, open_database

STAFF_SOURCE = "staff"
EXIT_NOT_FOUND = 3
BOX_SOURCE = "feedback-box"


def cmd_keys(args: argparse.Namespace) -> int:
    from monitor.intake.keys import KeyAdminError, add_key, list_keys, revoke_key, rotate_key

    db = open_database(load_or_exit(args))
    try:
        if args.keys_command == "list":
            keys = list_keys(db)
            if args.json:
                json.dump(keys, sys.stdout, ensure_ascii=False, indent=2)
                sys.stdout.write("\n")
            for key in [] if args.json else keys:
                state = "已吊销 revoked" if key["revoked_at"] else "有效 active"
                print(f"{key['name']}  {key['channel']}  {key['prefix']}…  {state}  last used {key['last_used_at'] or '-'}")
            return 0
        if args.keys_command == "revoke":
            revoke_key(db, args.name)
            print(f"{args.name}: 已吊销 revoked")
            return 0
        secret = add_key(db, args.name, args.channel) if args.keys_command == "add" else rotate_key(db, args.name)
    except KeyAdminError as exc:
        raise CliError(str(exc)) from None
    print(secret)
    print("只显示这一次，请妥善保存 / shown once: store it now (only its hash is kept)", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    intake = subparsers.add_parser("intake", help="feedback intake: API keys of website and app back ends")
    isub = intake.add_subparsers(dest="intake_command", required=True)
    keys = isub.add_parser("keys", help="add, rotate, revoke, list API keys (only hashes are stored)")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    add = ksub.add_parser("add", help="create a key; prints the secret once")
    add.add_argument("name", help="who uses it, e.g. website or ios-app")
    add.add_argument("--channel", choices=("web", "app"), default="web", help="channel its feedback gets")
    rotate = ksub.add_parser("rotate", help="replace a key's secret (the old one stops working now)")
    rotate.add_argument("name")
    revoke = ksub.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("name")
    listing = ksub.add_parser("list", help="keys with channel, prefix, state, last use")
    listing.add_argument("--json", action="store_true")
    for parser in (add, rotate, revoke, listing):
        parser.set_defaults(func=cmd_keys)


def _pipeline(config: Any) -> Any:
    """The daemon's pipeline for one command: configured rules, routes, SLA; alerts go out."""
    from monitor.analysis.engine import load_analyzer
    from monitor.runtime import build_context

    db = open_database(config)
    sentiment = config.rules.sentiment.settings() if config.rules.sentiment else None
    analyzer = load_analyzer(config.rules.paths, sentiment=sentiment, max_chars=config.analysis.max_chars)
    return build_context(config, db, analyzer)


def _secret(config: Any) -> bytes:
    from monitor.alerts.links import load_or_create_secret

    return load_or_create_secret(config.state_dir / "http.key")


def _text(args: argparse.Namespace) -> str:
    if args.file is not None:
        path: Path = args.file
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise CliError(f"{path}: 文件不存在 / no such file") from None
        except UnicodeDecodeError:
            raise CliError(f"{path}: 不是 UTF-8 文本 / not UTF-8 text") from None
        except OSError as exc:
            raise CliError(f"{path}: 无法读取 / cannot read: {exc.strerror or exc}") from None
    if args.text in (None, "-"):
        if sys.stdin.isatty() and args.text is None:
            raise CliError("请用 --text、--file 或标准输入给出反馈内容 / give the text with --text, --file or stdin")
        return sys.stdin.read()
    return str(args.text)


def cmd_tickets_new(args: argparse.Namespace) -> int:
    """Register a hotline call, in-store feedback, a box slip or a chat as a ticket."""
    from monitor.intake.customer import held_id
    from monitor.intake.staff import RegistrationError, register
    from monitor.intake.submit import submit

    config = load_or_exit(args)
    try:
        registration = register(
            config.intake,
            channel=args.channel,
            text=_text(args),
            type_=args.type,
            customer=args.customer,
            contact=args.contact,
            store=args.store,
            box=args.box,
            actor=args.actor,
            received_at=args.received_at,
        )
    except RegistrationError as exc:
        raise CliError(str(exc)) from None
    receipt = submit(
        _pipeline(config),
        STAFF_SOURCE,
        _secret(config),
        config.state_dir,
        registration.client,
        registration.feedback,
        origin=registration.origin,
    )
    if args.json:
        json.dump({"code": receipt.code, "status": receipt.status, "token": receipt.token}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(receipt.code + ("  待审核 held for review" if held_id(receipt.code) is not None else ""))
        print(f"查询令牌 status token: {receipt.token}", file=sys.stderr)
    return 0


def cmd_import_boxes(args: argparse.Namespace) -> int:
    """``yuqing import SLIPS.csv --format box-csv``: a week's feedback-box slips, each once."""
    from monitor.intake.staff import RegistrationError, box_registration, read_box_csv
    from monitor.intake.submit import quarantine, submit

    config = load_or_exit(args)
    pipeline = _pipeline(config)
    secret = _secret(config)
    created = repeated = bad = 0
    try:
        rows = list(read_box_csv(args.path))
    except RegistrationError as exc:
        raise CliError(str(exc)) from None
    for row in rows:
        try:
            registration, key = box_registration(config.intake, row, actor="box-import")
        except RegistrationError as exc:
            bad += 1
            quarantine(pipeline, BOX_SOURCE, f"box-csv line {row.line}: {exc}", row.raw, f"{args.path}:{row.line}")
            print(f"{args.path}:{row.line}: {exc}", file=sys.stderr)
            continue
        receipt = submit(
            pipeline, BOX_SOURCE, secret, config.state_dir, registration.client, registration.feedback,
            idempotency_key=key, origin=registration.origin,
        )
        created, repeated = created + receipt.created, repeated + (not receipt.created)
        print(f"{key}\t{receipt.code}")
    print(f"意见箱 box slips: {created} new, {repeated} already imported, {bad} quarantined", file=sys.stderr)
    return 0 if not bad else 1


def cmd_tickets_attachment(args: argparse.Namespace) -> int:
    """``yuqing tickets attachment CODE [N] --out DIR``: a ticket's files as stored, numbered as
    ``tickets show`` lists them; each checked against its hash and its content's type first."""
    from sqlalchemy import select

    from monitor.intake.files import StoredFileError, export_name, stored_bytes
    from monitor.storage.models import IntakeAttachment, StoredMessage, Ticket

    config = load_or_exit(args)
    db = open_database(config)
    with db.read() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.code == args.code.strip().upper()))
        if ticket_id is None:
            raise CliError(f"没有工单 / no ticket {args.code}", EXIT_NOT_FOUND)
        files = list(
            session.execute(
                select(IntakeAttachment.name, IntakeAttachment.media_type, IntakeAttachment.sha256)
                .join(StoredMessage, StoredMessage.id == IntakeAttachment.message_id)
                .where(StoredMessage.ticket_id == ticket_id)
                .order_by(IntakeAttachment.id)
            )
        )
    if args.number is not None and not 1 <= args.number <= len(files):
        raise CliError(
            f"{args.code} 有 {len(files)} 个附件 / has {len(files)} attachment(s); no number {args.number}", EXIT_NOT_FOUND
        )
    chosen = [(args.number, files[args.number - 1])] if args.number is not None else list(enumerate(files, 1))
    args.out.mkdir(parents=True, exist_ok=True)
    written: list[dict[str, Any]] = []
    failed = 0
    for index, (name, media_type, sha256) in chosen:
        target = args.out / export_name(index, name, media_type)
        try:
            data = stored_bytes(config.state_dir, sha256, media_type)
            with target.open("xb") as handle:  # never over an existing file
                handle.write(data)
        except (StoredFileError, FileExistsError) as exc:
            failed += 1
            reason = f"已存在 / exists: {target}" if isinstance(exc, FileExistsError) else str(exc)
            print(f"{args.code} #{index} {name}: {reason}", file=sys.stderr)
            continue
        written.append({"number": index, "name": name, "media_type": media_type, "size": len(data), "path": str(target)})
    if args.json:
        json.dump(written, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for item in written:
            print(f"{item['path']}\t{item['media_type']}\t{item['size']}")
    return 1 if failed or not files else 0


def _file(value: str) -> Path:
    if not value.strip():
        raise argparse.ArgumentTypeError("路径为空 / empty path")
    return Path(value)


def _when(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"时间格式 / time as 2026-11-28T14:30 (+08:00 if no zone): {value!r}") from None


def register_tickets(tsub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``yuqing tickets new``: staff registration (added next to the other ticket commands)."""
    from monitor.intake.staff import STAFF_CHANNELS

    new = tsub.add_parser(
        "new",
        help="register a hotline call, in-store feedback, a box slip or a chat as a ticket",
        description="Text from --text, --file or stdin. The ticket goes through analysis, routing and SLA.",
    )
    new.add_argument("--channel", choices=STAFF_CHANNELS, required=True)
    new.add_argument("--text", help="what the customer said ('-' or omitted: stdin)")
    new.add_argument("--file", type=_file, help="read the text from this file (UTF-8)")
    new.add_argument("--type", default="complaint", help="complaint|suggestion|inquiry (投诉/建议/咨询)")
    new.add_argument("--customer", help="customer's name")
    new.add_argument("--contact", help="phone number or e-mail")
    new.add_argument("--store", help="store id (intake.stores)")
    new.add_argument("--box", help="feedback box number (intake.stores[].boxes)")
    new.add_argument("--received-at", type=_when, help="when it was received (default now)")
    new.add_argument("--json", action="store_true")
    new.set_defaults(func=cmd_tickets_new)
    attachment = tsub.add_parser(
        "attachment",
        help="write a ticket's attachments (or the N-th, as 'tickets show' lists them) into a folder",
        description="The stored bytes, checked against their hash, named with the extension of the type "
        "read from the content when they were received. Existing files are never overwritten.",
    )
    attachment.add_argument("code")
    attachment.add_argument("number", nargs="?", type=int, help="only this one (1 = the first listed)")
    attachment.add_argument("--out", type=_file, required=True, help="folder to write into (created if missing)")
    attachment.add_argument("--json", action="store_true")
    attachment.set_defaults(func=cmd_tickets_attachment)
