"""The school-year calendar and the retention rule, the one home of both on the Python side.

School year Y runs from 1 July of Y - 1 to 30 June of Y, and is named by the year it ends in. Its
scores leave the hot tables on 1 July of Y + N, N being the retention period. The dbt models carry
the same rule in macros/retention.sql, and tests/python/test_rules.py holds the two together.
"""

from __future__ import annotations

import datetime as dt

# the month a school year starts in (1 July), and the one a school year expires in
FIRST_MONTH = 7


def school_year_of(date: dt.date) -> int:
    """The school year a date falls in."""
    return date.year + (1 if date.month >= FIRST_MONTH else 0)


def first_day(school_year: int) -> dt.date:
    return dt.date(school_year - 1, FIRST_MONTH, 1)


def last_day(school_year: int) -> dt.date:
    return dt.date(school_year, FIRST_MONTH, 1) - dt.timedelta(days=1)


def retained_from(retention_years: int, today: dt.date | None = None) -> int:
    """The oldest school year still kept today: school year Y expires on 1 July of
    Y + retention_years."""
    return school_year_of(today or dt.date.today()) - retention_years


def expiry_sql(retention_years: int, school_year: str = "school_year") -> str:
    """The day a row of `school_year` expires, as a ClickHouse expression (a table's TTL)."""
    return f"makeDate({school_year} + {retention_years}, {FIRST_MONTH}, 1)"


def outside_sql(date: str, school_year: str) -> str:
    """Whether the date expression `date` falls outside school year `school_year`, in ClickHouse."""
    return (
        f"{date} < makeDate({school_year} - 1, {FIRST_MONTH}, 1) "
        f"OR {date} >= makeDate({school_year}, {FIRST_MONTH}, 1)"
    )
