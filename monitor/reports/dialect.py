"""SQL fragments that differ between SQLite, PostgreSQL and MariaDB (seconds, local buckets, JSON).

Local time is a fixed UTC offset (``reports.utc_offset_hours``): China keeps no daylight saving,
so a day, week or month bucket is the UTC timestamp shifted by whole hours.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dialect:
    name: str  # sqlite, postgresql, mysql
    offset_hours: int

    def seconds(self, later: str, earlier: str) -> str:
        """Seconds from ``earlier`` to ``later``, rounded to the millisecond on every database.

        SQLite's ``julianday`` difference carries ~10 µs of floating-point noise; rounding to ms makes
        the three databases agree to the digit (a tie at the hundredth of an hour rounds the same).
        """
        if self.name == "sqlite":
            return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"
        if self.name == "postgresql":
            return f"CAST(ROUND(CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS NUMERIC), 3) AS DOUBLE PRECISION)"
        return f"ROUND(TIMESTAMPDIFF(MICROSECOND, {earlier}, {later}) / 1000000.0, 3)"

    def _local(self, column: str) -> str:
        if self.name == "sqlite":
            return f"datetime({column}, '{self.offset_hours:+d} hours')"
        if self.name == "postgresql":
            return f"(({column} AT TIME ZONE 'UTC') + INTERVAL '{self.offset_hours} hours')"
        return f"({column} + INTERVAL {self.offset_hours} HOUR)"

    def day(self, column: str) -> str:
        """The local calendar day, ``YYYY-MM-DD``."""
        if self.name == "sqlite":  # date() takes the shift as a modifier: one parse, not two
            return f"date({column}, '{self.offset_hours:+d} hours')"
        local = self._local(column)
        if self.name == "postgresql":
            return f"to_char({local}, 'YYYY-MM-DD')"
        return f"DATE_FORMAT({local}, '%Y-%m-%d')"

    def week(self, column: str) -> str:
        """The Monday that starts the local week, ``YYYY-MM-DD``."""
        if self.name == "sqlite":
            return f"date({column}, '{self.offset_hours:+d} hours', 'weekday 0', '-6 days')"
        local = self._local(column)
        if self.name == "postgresql":
            return f"to_char(date_trunc('week', {local}), 'YYYY-MM-DD')"
        return f"DATE_FORMAT(DATE_SUB({local}, INTERVAL WEEKDAY({local}) DAY), '%Y-%m-%d')"

    def keywords_from(self, alias: str) -> str:
        """``FROM`` clause items giving one row ``kw`` per matched keyword of messages ``alias``."""
        if self.name == "sqlite":
            return f"messages {alias}, json_each({alias}.analysis, '$.keywords') AS j"
        if self.name == "postgresql":
            return (
                f"messages {alias} CROSS JOIN LATERAL "
                f"json_array_elements_text({alias}.analysis -> 'keywords') AS j(value)"
            )
        return (
            f"messages {alias}, JSON_TABLE({alias}.analysis, '$.keywords[*]' "
            "COLUMNS (value VARCHAR(255) PATH '$')) AS j"
        )
