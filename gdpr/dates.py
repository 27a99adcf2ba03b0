"""Calendar arithmetic for deadlines and holds: months are calendar months, not 30 days.

Art. 12(3) GDPR gives one month from receipt; per Regulation 1182/71 a period that ends
on a day the month does not have (31 January + 1 month) ends on that month's last day.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # the data map's model costs a quarter second; a deadline needs none of it
    from assay.gdpr.datamap import Duration

D = TypeVar("D", date, datetime)


def add_months(day: D, months: int) -> D:
    """`day` moved by `months` calendar months, clamped to the end of a shorter month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def shift(moment: D, duration: Duration, sign: int = 1) -> D:
    """`moment` moved forward (sign 1) or back (sign -1) by a duration of years, months, days."""
    moved = add_months(moment, sign * (duration.years * 12 + duration.months))
    return moved + timedelta(days=sign * duration.days)


def as_moment(value: object) -> datetime | None:
    """An aware moment from a date, a timestamp (naive means local time), or text holding
    an ISO 8601 date or date and time; None if it is none of these."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.astimezone()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).astimezone()
    return None


def as_date(value: object) -> date | None:
    """A date from what a database returns for a date or timestamp column (or ISO text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            return None
    return None
