"""The platform's one currency (CURRENCY, ISO 4217) and how money is written in it.

Amounts are integer cents (the currency's hundredths) everywhere; only what a person reads
says the currency: a sign for the common ones, else the code ("1,234.00 SGD").
"""

from __future__ import annotations

# The signs people expect; any other ISO 4217 code is written after the amount.
CURRENCY_SIGNS = {
    "CNY": "¥",
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "HKD": "HK$",
    "TWD": "NT$",
    "SGD": "S$",
    "AUD": "A$",
    "CAD": "C$",
    "KRW": "₩",
    "INR": "₹",
}
DEFAULT_CURRENCY = "CNY"
CURRENCY_PATTERN = r"^[A-Z]{3}$"


def money(cents: int, currency: str = DEFAULT_CURRENCY, *, whole: bool = False) -> str:
    """¥1,234.50 (thousands separated); `whole`: ¥499 when there are no cents. A currency
    without a sign here: "1,234.50 SGD"."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    amount = f"{cents // 100:,}" if whole and cents % 100 == 0 else f"{cents / 100:,.2f}"
    symbol = CURRENCY_SIGNS.get(currency)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"
