"""``yuqing survey send|results``: questionnaire campaigns (docs in README, ``feedback.surveys``)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.cli import CliError, load_or_exit, open_database
from monitor.feedback.mailer import deliver_followups, email_sender
from monitor.feedback.surveys import (
    SurveyError,
    campaign_results,
    plan_campaign,
    read_csv,
    recent_customers,
)
from monitor.storage.models import utcnow

_CAMPAIGN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def campaign_name(value: str) -> str:
    if not _CAMPAIGN.match(value):
        raise argparse.ArgumentTypeError(f"活动名为 1-32 个字母数字 / campaign: 1-32 letters, digits, - _ .: {value!r}")
    return value


def limit_count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= 10_000_000:
        raise argparse.ArgumentTypeError(f"--limit 须为 1 到 10000000 / --limit: 1 to 10,000,000: {value!r}")
    return number


def since_date(value: str) -> datetime:
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"日期格式 YYYY-MM-DD / --since: {value!r}") from None
    return day if day.tzinfo else day.replace(tzinfo=UTC)


def cmd_send(args: argparse.Namespace) -> int:
    from monitor.runtime import link_signer

    config = load_or_exit(args)
    surveys = config.feedback.surveys
    sender = email_sender(config.alerts.targets, config.feedback.survey_mail_target)
    if sender is None:
        raise CliError("未配置发信目标 / no e-mail target: set feedback.surveys.mail_target (or satisfaction.mail_target)")
    mail_from = str(getattr(sender.config, "sender", ""))
    db = open_database(config)
    now = utcnow()
    invalid = 0
    if args.csv is not None:
        try:
            recipients, invalid = read_csv(args.csv)
        except (OSError, SurveyError) as exc:
            raise CliError(f"读取 CSV 失败 / cannot read the CSV list: {exc}") from None
    else:
        since = args.since or now - timedelta(days=surveys.since_days)
        with db.read() as session:
            recipients = recent_customers(session, since)
    signer = link_signer(config) if config.alerts.ack.enabled else None
    with db.sessions() as session:  # a dry run plans in the same transaction and rolls it back
        plan = plan_campaign(session, args.campaign, recipients, signer, mail_from=mail_from, now=now, limit=args.limit)
        if args.dry_run:
            session.rollback()
        else:
            session.commit()
    would = "（试运行，未写入未发送 / dry run: nothing queued or sent）" if args.dry_run else ""
    print(
        f"调查 {args.campaign}: 新排队 {plan.queued}，已退订 {plan.opted_out}，已发过 {plan.already}，无效地址 {invalid + plan.invalid}"
        f" / queued {plan.queued}, opted out {plan.opted_out}, already in the campaign {plan.already}, invalid {invalid + plan.invalid}{would}"
    )
    if args.dry_run:
        return 0
    stats = deliver_followups(
        db, sender, kinds=("survey",), campaign=args.campaign, limit=args.limit or 100_000, pace=60.0 / surveys.per_minute
    )
    print(f"已发送 {stats.sent}，失败 {stats.failed}，待重试 {stats.retry} / sent {stats.sent}, failed {stats.failed}, retry {stats.retry}")
    return 0 if not stats.failed else 1


def cmd_results(args: argparse.Namespace) -> int:
    config = load_or_exit(args)
    db = open_database(config)
    with db.read() as session:
        record = campaign_results(session, args.campaign)
    if args.json:
        json.dump(record, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    rate = record["satisfaction_rate"]
    print(
        f"调查 Campaign {record['campaign']}: 问卷 questionnaires {record['questionnaires']} (已发 sent {record['sent']}, "
        f"失败 failed {record['failed']}), 回复 answers {record['answers']}, 退订 opted out {record['opted_out']}"
    )
    print(
        f"满意 satisfied {record['satisfied']} · 一般 neutral {record['neutral']} · 不满意 dissatisfied {record['dissatisfied']}"
        f" · 满意率 rate {'-' if rate is None else f'{100 * rate:.1f} %'}"
    )
    for item in record["items"]:
        ticket = f" → {item['ticket']}" if item["ticket"] else ""
        text = " ".join(item["text"].split())[:80]
        print(f"  {item['at'][:16]}  {item['answer']:<3} {item['channel']:<6}{ticket}  {text}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    survey = sub.add_parser("survey", help="survey campaigns: send questionnaires, show results")
    ssub = survey.add_subparsers(dest="survey_command", required=True)
    send = ssub.add_parser("send", help="mail the questionnaire (rate-limited; opted-out addresses skipped)")
    send.add_argument("--campaign", required=True, type=campaign_name, help="e.g. 2026Q4")
    who = send.add_mutually_exclusive_group()
    who.add_argument("--since", type=since_date, help="customers of tickets created since YYYY-MM-DD")
    who.add_argument("--csv", type=Path, help="a CSV list with an email column (name optional)")
    send.add_argument("--limit", type=limit_count, help="at most this many new questionnaires")
    send.add_argument("--dry-run", action="store_true", help="count who would get it; queue and send nothing")
    send.set_defaults(func=cmd_send)
    results = ssub.add_parser("results", help="answers of a campaign")
    results.add_argument("--campaign", required=True, type=campaign_name)
    results.add_argument("--json", action="store_true", help="one JSON object")
    results.set_defaults(func=cmd_results)
