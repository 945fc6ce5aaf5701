"""Commands for rule authors: ``analyze``, ``rules lint``, ``rules test``, ``sentiment train``.

``register(subparsers)`` adds them to the ``yuqing`` argparse parser; every handler returns the
exit code. ``rules backtest`` needs the database and lives with the daemon: a module named in
``RULES_COMMAND_MODULES`` that has ``register_rules(rules_subparsers)`` adds it under ``rules``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from monitor.analysis.engine import Engine, Trace, load_engine
from monitor.analysis.fixtures import run_fixtures
from monitor.analysis.lint import lint_rules, render
from monitor.analysis.rulesource import RuleSource, resolve
from monitor.analysis.sentiment.linear import TrainConfig
from monitor.analysis.sentiment.training import TrainingDataError, evaluate, read_labelled_csv, train_texts
from monitor.errors import ConfigError
from monitor.message import Author, Engagement, Message

EXIT_OK, EXIT_FAIL, EXIT_CONFIG = 0, 1, 2
FORMAT_VERSION = 1
RULES_COMMAND_MODULES = ("monitor.cli_backtest", "monitor.analysis.explain")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``analyze``, ``rules lint|test`` and ``sentiment train`` to the ``yuqing`` parser."""
    analyze = subparsers.add_parser(
        "analyze",
        help="分析标准输入的消息并输出 JSON 行 / analyse stdin lines, print one JSON line each",
        description="读取 JSON 行 {id, text, source, title?, channel?, followers?, engagement?} 或纯文本行；"
        "输出格式见 docs/analyze-format.md。",
    )
    _add_rules_option(analyze)
    analyze.set_defaults(func=cmd_analyze)

    rules = subparsers.add_parser("rules", help="检查与测试规则 / lint and test rule files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    lint = rules_sub.add_parser("lint", help="校验规则文件，列出所有错误和警告 / validate rule files")
    _add_rules_option(lint)
    lint.add_argument("--strict", action="store_true", help="警告也算失败 / fail on warnings too")
    lint.set_defaults(func=cmd_rules_lint)
    test = rules_sub.add_parser("test", help="运行规则测试样例 / run rule fixtures")
    _add_rules_option(test)
    test.add_argument("fixtures", nargs="*", type=Path, help="样例文件或目录（默认：规则目录下的 fixtures/）")
    test.set_defaults(func=cmd_rules_test)
    for name in RULES_COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            module = importlib.import_module(name)
            if hasattr(module, "register_rules"):
                module.register_rules(rules_sub)

    sentiment = subparsers.add_parser("sentiment", help="情感模型 / sentiment model")
    sentiment_sub = sentiment.add_subparsers(dest="sentiment_command", required=True, metavar="COMMAND")
    train = sentiment_sub.add_parser(
        "train",
        help="用标注数据训练情感模型 / train a sentiment model on labelled CSV",
        description="CSV 需要 label 列（1/0、pos/neg、正面/负面）和 text 列（或 review）。",
    )
    train.add_argument("--data", type=Path, required=True, help="labelled.csv")
    train.add_argument("--out", type=Path, default=Path("sentiment-model.json"), help="模型输出文件")
    train.add_argument("--holdout", type=float, default=0.2, help="留出评估比例 (0 = 全部用于训练)")
    train.add_argument("--seed", type=int, default=13)
    train.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    train.set_defaults(func=cmd_sentiment_train)


def _add_rules_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        type=Path,
        action="append",
        help="规则目录或文件，可重复（默认：配置文件的 rules.paths，无配置时 ./rules）"
        "/ rule directory or file, repeatable (default: the configuration's rules.paths, else ./rules)",
    )


def _source(args: argparse.Namespace) -> RuleSource | None:
    """Rule paths from ``--rules`` or the configuration; prints the error and returns None if the
    configuration cannot be read."""
    try:
        return resolve(args)
    except ConfigError as exc:
        print(f"配置无效 configuration is invalid（{len(exc.issues)} 个错误 error(s)）:", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return None


def _rule_paths(args: argparse.Namespace) -> list[Path]:
    source = _source(args)
    return list(source.paths) if source else []


def _print_config_error(exc: ConfigError, out: TextIO, what: str = "规则无效 rules are invalid") -> None:
    print(f"{what}（{len(exc.issues)} 个错误 error(s)）:", file=out)
    for issue in exc.issues:
        print(f"  {issue}", file=out)


def _load(args: argparse.Namespace) -> Engine | None:
    source = _source(args)
    if source is None:
        return None
    try:
        return load_engine(source.paths, sentiment=source.sentiment)
    except ConfigError as exc:
        _print_config_error(exc, sys.stderr)
        return None


# --- analyze -------------------------------------------------------------------------------------


def parse_input(line: str, number: int) -> Message:
    """A JSON object line or a plain text line as a Message."""
    data: dict[str, Any] | None = None
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            loaded = json.loads(stripped)
        except json.JSONDecodeError:
            loaded = None
        if isinstance(loaded, dict):
            data = loaded
    if data is None:
        data = {"text": line.rstrip("\r\n")}
    ident = str(data.get("id", number))
    followers = data.get("followers")
    return Message(
        source=str(data.get("source", "stdin")),
        external_id=ident or str(number),
        thread_key=ident or str(number),
        text=str(data.get("text", "")),
        created_at=datetime.now(UTC),
        channel=str(data.get("channel", "")),
        title=str(data.get("title", "")),
        author=Author(followers=int(followers) if isinstance(followers, int | float) else None),
        engagement=Engagement(likes=int(data.get("engagement", 0) or 0)),
    )


def trace_to_json(ident: str, trace: Trace) -> dict[str, Any]:
    """The stable ``analyze`` output record (see docs/analyze-format.md)."""
    analysis = trace.analysis
    sentiment = analysis.sentiment
    return {
        "v": FORMAT_VERSION,
        "id": ident,
        "normalized": trace.text.value,
        "tokens": trace.tokens.visible(),
        "matches": [
            {
                "rule": f.rule_id,
                "keywords": list(dict.fromkeys(m.keyword for m in f.matches)),
                "spans": [
                    {"keyword": m.keyword, "field": m.field, "start": m.start, "end": m.end}
                    for m in f.matches
                ],
                "priority": f.priority,
                "alert": f.alert,
                "review": f.review,
                "tags": list(f.tags),
                "department": f.department,
            }
            for f in analysis.findings
        ],
        "priority": analysis.priority,
        "alert": analysis.alert,
        "type": analysis.first("feedback_type"),
        "category": analysis.first("category"),
        "department": analysis.first("department"),
        "review": analysis.review,
        "sentiment": {"score": sentiment.score, "label": sentiment.label} if sentiment else None,
    }


def _lines(stream: TextIO) -> Iterator[str]:
    yield from stream


def cmd_analyze(args: argparse.Namespace) -> int:
    engine = _load(args)
    if engine is None:
        return EXIT_CONFIG
    number = 0
    for line in _lines(sys.stdin):
        if not line.strip():
            continue
        number += 1
        message = parse_input(line, number)
        record = trace_to_json(message.external_id, engine.inspect(message))
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    return EXIT_OK


# --- rules lint / test ---------------------------------------------------------------------------


def cmd_rules_lint(args: argparse.Namespace) -> int:
    source = _source(args)
    if source is None:
        return EXIT_CONFIG
    print(source.describe())
    report = lint_rules(source.paths, strict=args.strict, sentiment=source.sentiment)
    errors, warnings = report.errors, report.warnings
    for issue in report.issues:
        print(render(issue))
    print(
        f"{len(errors)} 个错误 errors, {len(warnings)} 个警告 warnings, "
        f"{report.rules} 条启用的规则 enabled rules"
    )
    if errors or (args.strict and warnings):
        return EXIT_FAIL
    return EXIT_OK


def cmd_rules_test(args: argparse.Namespace) -> int:
    source = _source(args)
    engine = _load(args) if source is not None else None
    if source is None or engine is None:
        return EXIT_CONFIG
    print(source.describe())
    fixtures = list(args.fixtures) or [p / "fixtures" for p in source.paths if (p / "fixtures").is_dir()]
    if not fixtures:
        print("没有找到测试样例 no fixtures found（规则目录下的 fixtures/ / fixtures/ next to the rules）")
        return EXIT_FAIL
    try:
        results = run_fixtures(engine, fixtures)
    except ConfigError as exc:
        _print_config_error(exc, sys.stderr, "测试样例无效 fixtures are invalid")
        return EXIT_CONFIG
    failed = [r for r in results if not r.ok]
    for result in failed:
        print(result.report())
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return EXIT_FAIL if failed or not results else EXIT_OK


# --- sentiment train -----------------------------------------------------------------------------


def cmd_sentiment_train(args: argparse.Namespace) -> int:
    try:
        rows = read_labelled_csv(args.data)
    except (OSError, TrainingDataError) as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    rng = random.Random(args.seed)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    cut = int(len(shuffled) * (1 - args.holdout)) if 0 < args.holdout < 1 else len(shuffled)
    train_rows, test_rows = shuffled[:cut], shuffled[cut:]
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    try:
        model = train_texts(train_rows, config)
    except TrainingDataError as exc:
        print(f"错误 error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if test_rows:
        score = evaluate(model, test_rows)
        print(f"留出集 held-out: {len(test_rows)} 条, balanced accuracy = {score:.3f}")
    model.save(args.out)
    print(f"已保存 saved {args.out} ({len(model.weights)} features, trained on {len(train_rows)} rows)")
    print(f"在规则文件中启用 enable in a rule file:\n  sentiment: {{method: model, model: {args.out}}}")
    return EXIT_OK
