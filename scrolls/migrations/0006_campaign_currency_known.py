"""A campaign's currency is one whose minor units the code knows (core.currencies): Stripe is
sent amounts in them, and a currency guessed at charges 100 times the price, or a hundredth.

The list is written out here as it was on the day (a later table gets its own migration). A
campaign already in a currency outside it stops the migration with its name, rather than being
changed: which currency its buyers paid in is for staff to say."""

from django.db import migrations, models

CURRENCIES = (
    "AED", "ARS", "AUD", "AZN", "BGN", "BHD", "BIF", "BRL", "CAD", "CHF", "CLP", "CZK", "DJF", "DKK",
    "EUR", "GBP", "GEL", "GNF", "HKD", "ILS", "INR", "JOD", "JPY", "KMF", "KRW", "KWD", "KZT", "MDL",
    "MGA", "MXN", "NOK", "NZD", "OMR", "PLN", "PYG", "RON", "RUB", "RWF", "SEK", "SGD", "TND", "TRY",
    "UAH", "UGX", "USD", "VND", "VUV", "XAF", "XOF", "XPF", "ZAR",
)
CHOICES = [(code, code) for code in CURRENCIES]


def refuse_unknown_currencies(apps, schema_editor):
    Campaign = apps.get_model("scrolls", "Campaign")
    unknown = list(Campaign.objects.exclude(currency__in=CURRENCIES).values_list("slug", "currency"))
    if unknown:
        named = ", ".join(f"{slug} ({currency})" for slug, currency in unknown)
        raise RuntimeError(f"Campaigns in a currency whose minor units are not known: {named}. Change it first.")


class Migration(migrations.Migration):
    dependencies = [("scrolls", "0005_campaign_time_zone_validated")]

    operations = [
        migrations.RunPython(refuse_unknown_currencies, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="campaign",
            name="currency",
            field=models.CharField(choices=CHOICES, default="USD", max_length=3, verbose_name="currency"),
        ),
        migrations.AlterField(
            model_name="historicalcampaign",
            name="currency",
            field=models.CharField(choices=CHOICES, default="USD", max_length=3, verbose_name="currency"),
        ),
        migrations.AddConstraint(
            model_name="campaign",
            constraint=models.CheckConstraint(
                condition=models.Q(("currency__in", CURRENCIES)), name="campaign_currency_known"
            ),
        ),
    ]
