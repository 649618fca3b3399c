"""Scalars and enums of the public graph."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from enum import StrEnum
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from gateway.authz.model import Purpose as PurposeEnum
from gateway.authz.model import ServiceCategory as ServiceCategoryEnum


def customer_id_of(raw: object) -> int | None:
    """The customer id an ``ID`` argument names, or None when it cannot name one (a bigint > 0)."""
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


def _bigint(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("BigInt must be an integer")
    return int(value)


# Dates outside these bounds (in UTC) are bad input: beyond them Python's
# datetime and the driver's conversion to UTC overflow (a 5xx otherwise).
EARLIEST = datetime(1900, 1, 1)
LATEST = datetime(9999, 1, 1)
MONTH = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")


def _datetime(value: object) -> datetime:
    """An ISO 8601 date and time between 1900 and 9999 (in UTC); naive values stay naive."""
    if not isinstance(value, str):
        raise ValueError("DateTime must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value)
        in_utc = parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise ValueError("DateTime must be an ISO 8601 date and time") from None
    if not EARLIEST <= in_utc < LATEST:
        raise ValueError("DateTime must be between 1900 and 9999")
    return parsed


class _MonthClock:
    """This month, read from the clock again only once it is over (a local time read costs microseconds a request)."""

    __slots__ = ("_month", "_since", "_until")

    def __init__(self) -> None:
        self._month = ""
        # The month's first instant and the next month's, local time, as POSIX timestamps.
        self._since = self._until = 0.0

    def __call__(self) -> str:
        now = time.time()
        if not self._since <= now < self._until:  # a new month (or the clock was set back)
            today = datetime.fromtimestamp(now)
            following = datetime(today.year + (today.month == 12), today.month % 12 + 1, 1)
            self._month = today.strftime("%Y-%m")
            self._since, self._until = datetime(today.year, today.month, 1).timestamp(), following.timestamp()
        return self._month


_THIS_MONTH = _MonthClock()


def current_month() -> str:
    """This month as ``YYYY-MM`` (local time): the month a usage summary is for when none is asked."""
    return _THIS_MONTH()


def is_month(text: str) -> bool:
    """``YYYY-MM`` with a real month, year 0001 or later."""
    return MONTH.fullmatch(text) is not None and text[:4] != "0000"


BigInt = NewType("BigInt", int)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A 64-bit integer, serialized as a JSON number.",
        serialize=int,
        parse_value=_bigint,
    ),
    datetime: strawberry.scalar(
        name="DateTime",
        description="Date with time (isoformat)",
        serialize=datetime.isoformat,
        parse_value=_datetime,
    ),
}

# Registered as GraphQL enums under their public names; the classes stay the
# authorization layer's own, so values flow through without conversion.
strawberry.enum(PurposeEnum, name="Purpose", description="Declared purpose of use (X-Purpose).")
strawberry.enum(ServiceCategoryEnum, name="ServiceCategory")
Purpose = PurposeEnum
ServiceCategory = ServiceCategoryEnum


@strawberry.enum
class Segment(StrEnum):
    RESIDENTIAL = "RESIDENTIAL"
    BUSINESS = "BUSINESS"


@strawberry.enum
class CustomerStatus(StrEnum):
    ACTIVE = "ACTIVE"
    TERMINATED = "TERMINATED"


@strawberry.enum
class ServiceStatus(StrEnum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    DISCONNECTED = "DISCONNECTED"


@strawberry.enum
class CpniApprovalStatus(StrEnum):
    OPT_IN = "OPT_IN"
    OPT_OUT = "OPT_OUT"
    NONE = "NONE"


@strawberry.enum
class ApprovalScope(StrEnum):
    CPNI = "CPNI"
    LOCATION = "LOCATION"


@strawberry.enum
class NoticeMethod(StrEnum):
    MAIL = "MAIL"
    EMAIL = "EMAIL"


@strawberry.enum
class Direction(StrEnum):
    OUTBOUND = "OUTBOUND"
    INBOUND = "INBOUND"
    DATA = "DATA"


@strawberry.enum
class InvoiceStatus(StrEnum):
    OPEN = "OPEN"
    PAID = "PAID"
    OVERDUE = "OVERDUE"
    VOID = "VOID"


@strawberry.enum
class PaymentKind(StrEnum):
    CARD = "CARD"
    BANK_ACCOUNT = "BANK_ACCOUNT"
    INVOICE = "INVOICE"


@strawberry.enum
class CampaignStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
