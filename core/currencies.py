"""The currencies a campaign may take, each with the decimals of its minor unit as Stripe counts
amounts (https://docs.stripe.com/currencies). One table: the campaign's choices and its database
constraint (scrolls) and the amounts sent to Stripe (payments.providers.to_minor_units).

A currency missing here is refused rather than guessed: charging JPY as if it had cents takes
100 times the price. Stripe's special cases (ISK, HUF, TWD: zero-decimal in some places and
two-decimal in others) are left out on purpose."""

from decimal import Decimal

# Stripe's zero-decimal currencies: 1000 JPY is sent as 1000.
ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF")  # fmt: skip
# Three decimals: 1.5 KWD is sent as 1500; Stripe requires the last digit to be 0 (prices have
# two decimals, so it always is).
THREE_DECIMAL = ("BHD", "JOD", "KWD", "OMR", "TND")
# Two decimals (cents): those the campaigns take, and their neighbours.
TWO_DECIMAL = (
    "AED", "ARS", "AUD", "AZN", "BGN", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "GEL", "HKD",
    "ILS", "INR", "KZT", "MDL", "MXN", "NOK", "NZD", "PLN", "RON", "RUB", "SEK", "SGD", "TRY", "UAH",
    "USD", "ZAR",
)  # fmt: skip

CURRENCY_DECIMALS = {
    **{code: 0 for code in ZERO_DECIMAL},
    **{code: 2 for code in TWO_DECIMAL},
    **{code: 3 for code in THREE_DECIMAL},
}
CURRENCIES = tuple(sorted(CURRENCY_DECIMALS))
CURRENCY_CHOICES = [(code, code) for code in CURRENCIES]


def currency_decimals(currency: str) -> int:
    """Decimals of the currency's minor unit; KeyError for a currency not in the table."""
    return CURRENCY_DECIMALS[currency.upper()]


def currency_quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` in the currency's minor units: 36.000 ILS -> 36.00, 1.5 KWD -> 1.500, 1000.00 JPY -> 1000."""
    return amount.quantize(Decimal(1).scaleb(-currency_decimals(currency)))


def currency_amount_exact(amount: Decimal, currency: str) -> bool:
    """Whether `amount` is a whole number of the currency's minor units (no half yen)."""
    return amount == currency_quantize(amount, currency)
