"""A reporting month in local time (fixed UTC offset) and its UTC bounds."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    offset_hours: int = 8

    @classmethod
    def parse(cls, text: str, offset_hours: int = 8) -> Month:
        """``YYYY-MM`` (years 2000-2999); ValueError with a bilingual message otherwise."""
        found = _MONTH.match(text.strip())
        if not found or not 2000 <= int(found[1]) <= 2999 or not 1 <= int(found[2]) <= 12:
            raise ValueError(f"月份格式应为 YYYY-MM / month must be YYYY-MM: {text!r}")
        return cls(int(found[1]), int(found[2]), offset_hours)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1, self.offset_hours)

    @property
    def start(self) -> datetime:
        """The month's first local midnight, in UTC."""
        local = datetime(self.year, self.month, 1, tzinfo=UTC)
        return local - timedelta(hours=self.offset_hours)

    @property
    def end(self) -> datetime:
        return self.shift(1).start

    @classmethod
    def containing(cls, moment: datetime, offset_hours: int) -> Month:
        local = moment.astimezone(UTC) + timedelta(hours=offset_hours)
        return cls(local.year, local.month, offset_hours)
