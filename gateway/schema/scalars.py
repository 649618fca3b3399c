"""Scalars and enums of the public graph."""

from __future__ import annotations

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


BigInt = NewType("BigInt", int)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    BigInt: strawberry.scalar(
        name="BigInt",
        description="A 64-bit integer, serialized as a JSON number.",
        serialize=int,
        parse_value=_bigint,
    )
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
