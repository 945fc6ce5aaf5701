"""Staff registration of offline feedback: hotline calls, in-store feedback, chats, box slips.

The policy's registration fields: channel, type, content, the customer's name and contact (when
given), the store and box for offline feedback, when it was received and who registered it.
Each is validated here; the submission then goes through :func:`monitor.intake.submit.submit`
like any other, so analysis, routing and SLA apply.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.intake.keys import Client
from monitor.intake.settings import IntakeConfig
from monitor.intake.submit import Feedback, Origin

STAFF_CHANNELS = ("phone", "store", "box", "chat")
TYPE_WORDS = {"投诉": "complaint", "建议": "suggestion", "咨询": "inquiry", "complaint": "complaint",
              "suggestion": "suggestion", "inquiry": "inquiry"}
PHONE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CHINA = timezone(timedelta(hours=8))


class RegistrationError(ValueError):
    """A registration the policy's fields do not allow (Chinese, then English)."""


@dataclass(frozen=True, slots=True)
class Registration:
    client: Client
    feedback: Feedback
    origin: Origin


def check_contact(contact: str | None) -> str | None:
    if not contact:
        return None
    contact = contact.strip()
    if not (PHONE.match(contact) or EMAIL.match(contact)):
        raise RegistrationError(f"联系方式须为电话或邮箱 / contact must be a phone number or e-mail: {contact!r}")
    return contact


def feedback_type(value: str) -> str:
    found = TYPE_WORDS.get(value.strip().lower())
    if found is None:
        raise RegistrationError(f"类型须为 投诉/建议/咨询 / type must be complaint, suggestion or inquiry: {value!r}")
    return found


def register(
    settings: IntakeConfig,
    *,
    channel: str,
    text: str,
    type_: str = "complaint",
    customer: str | None = None,
    contact: str | None = None,
    store: str | None = None,
    box: str | None = None,
    actor: str,
    received_at: datetime | None = None,
) -> Registration:
    """Validate one registration into what :func:`submit` takes."""
    if channel not in STAFF_CHANNELS:
        raise RegistrationError(f"渠道须为 {'/'.join(STAFF_CHANNELS)} / channel must be one of {', '.join(STAFF_CHANNELS)}")
    if box:
        owner = settings.store_of_box(box)
        if owner is None:
            raise RegistrationError(f"未配置的意见箱 / box {box!r} is not configured under intake.stores")
        if store and store != owner.id:
            raise RegistrationError(f"意见箱 {box} 属于门店 {owner.id} / box {box} belongs to store {owner.id}")
        store = owner.id
    if store and store not in {s.id for s in settings.stores}:
        raise RegistrationError(f"未配置的门店 / store {store!r} is not configured under intake.stores")
    if channel == "store" and not store:
        raise RegistrationError("门店反馈须给出 --store / in-store feedback needs --store")
    if channel == "box" and not box:
        raise RegistrationError("意见箱反馈须给出 --box / box feedback needs --box")
    if received_at is not None and received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=CHINA)
    try:
        feedback = Feedback(
            type=feedback_type(type_),
            content=text,
            name=(customer or None),
            contact=check_contact(contact),
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise RegistrationError(f"登记内容无效 / invalid registration: {problems}") from None
    client = Client(f"staff:{actor}"[:80] if channel != "box" else f"box:{store}", actor, channel)
    return Registration(client, feedback, Origin(store=store, box=box, received_at=received_at))


BOX_COLUMNS = {
    "box": ("box", "箱号", "意见箱"),
    "slip": ("slip", "编号", "单号"),
    "date": ("date", "日期", "opened"),
    "type": ("type", "类型"),
    "content": ("content", "内容", "text"),
    "name": ("name", "姓名"),
    "contact": ("contact", "联系方式"),
}


@dataclass(frozen=True, slots=True)
class BoxRow:
    line: int
    raw: bytes
    values: dict[str, str]


def read_box_csv(path: Path) -> Iterator[BoxRow]:
    """Rows of a week's slips (UTF-8, with or without BOM; headers in English or Chinese)."""
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    lines = text.splitlines(keepends=True)
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None) or []
    names: dict[int, str] = {}
    for index, label in enumerate(header):
        for field, aliases in BOX_COLUMNS.items():
            if label.strip().lower() in aliases:
                names[index] = field
    missing = {"box", "slip", "content"} - set(names.values())
    if missing:
        raise RegistrationError(f"{path}: 缺少列 / missing columns: {', '.join(sorted(missing))}")
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        line = reader.line_num
        values = {names[i]: cell.strip() for i, cell in enumerate(row) if i in names}
        raw = (lines[line - 1] if line - 1 < len(lines) else ",".join(row)).encode()
        yield BoxRow(line, raw, values)


def box_registration(settings: IntakeConfig, row: BoxRow, actor: str) -> tuple[Registration, str]:
    """One slip as a registration and its idempotency key (box + slip number: re-imports store nothing twice)."""
    values: dict[str, Any] = row.values
    received = None
    if values.get("date"):
        try:
            day = datetime.fromisoformat(values["date"])
        except ValueError:
            raise RegistrationError(f"日期格式应为 YYYY-MM-DD / date must be YYYY-MM-DD: {values['date']!r}") from None
        received = day if day.time() != time(0) else datetime.combine(day.date(), time(12))
    if not values.get("slip"):
        raise RegistrationError("缺少编号 / missing slip number")
    registration = register(
        settings,
        channel="box",
        text=values.get("content", ""),
        type_=values.get("type") or "suggestion",
        customer=values.get("name") or None,
        contact=values.get("contact") or None,
        box=values.get("box") or "",
        actor=actor,
        received_at=received,
    )
    return registration, f"{values['box']}:{values['slip']}"
