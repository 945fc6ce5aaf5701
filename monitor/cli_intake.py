"""``yuqing intake keys add|rotate|revoke|list``: API keys of the website and app back ends."""

from __future__ import annotations

import argparse
import json
import sys

from monitor.cli import CliError, load_or_exit, open_database


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
