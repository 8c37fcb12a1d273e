"""How long a penalty stays public (国家市场监督管理总局令第45号, thresholds configurable)."""
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .dates import add_months

LIGHT_CATEGORIES = {"警告", "通报批评"}


@dataclass(frozen=True)
class PublicityPolicy:
    short_months: int = 3
    long_years: int = 3
    small_fine_natural_person: Decimal = Decimal("10000")  # below this: short period
    small_fine_organisation: Decimal = Decimal("100000")


# Publicity classes: never published (a warning only), the short period, the long period.
NONE, SHORT, LONG = "none", "short", "long"


def publicity_class(categories, fine: Decimal | None, confiscation: Decimal | None, party_kind: str,
                    policy: PublicityPolicy = PublicityPolicy()) -> str:
    """Which period applies: NONE (warning only), SHORT (通报批评 or a small fine) or LONG (the rest)."""
    cats = set(categories)
    if not cats or cats == {"警告"}:
        return NONE
    threshold = policy.small_fine_natural_person if party_kind == "natural_person" else policy.small_fine_organisation
    amount = Decimal(fine or 0) + Decimal(confiscation or 0)
    only_light_or_fine = cats <= LIGHT_CATEGORIES | {"罚款"}
    return SHORT if only_light_or_fine and amount < threshold else LONG


def publicity_end(categories, fine: Decimal | None, confiscation: Decimal | None, party_kind: str,
                  decision_date: date, restriction_end: date | None = None,
                  policy: PublicityPolicy = PublicityPolicy()) -> date | None:
    """The last day the penalty may be public, or None when it is never published (warning only)."""
    kind = publicity_class(categories, fine, confiscation, party_kind, policy)
    if kind == NONE:
        return None
    if kind == SHORT:
        end = add_months(decision_date, policy.short_months) - timedelta(days=1)
    else:
        end = add_months(decision_date, 12 * policy.long_years) - timedelta(days=1)
    if restriction_end is not None and restriction_end > end:
        end = restriction_end
    return end
