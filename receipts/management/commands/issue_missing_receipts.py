"""python manage.py issue_missing_receipts [--organisation SLUG] [--dry-run]: receipts for the
paid orders of campaigns that have an organisation but whose receipt is missing (paid before
the campaign was given its organisation). Safe to repeat."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.tasks import enqueue
from receipts.models import Organisation
from receipts.services import receipts_issue_missing
from receipts.tasks import deliver_receipt


class Command(BaseCommand):
    help = (
        "Give a receipt to each paid order of a campaign that has an organisation and whose receipt is missing "
        "(numbered under the counter's lock, dated the day the order was paid); then drawn and emailed as any "
        "other. Safe to repeat: an order that has its receipt is passed over."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organisation", metavar="SLUG", help="Only the campaigns of this organisation.")
        parser.add_argument("--dry-run", action="store_true", help="Say which orders would get one; change nothing.")

    def handle(self, *args, **options):
        organisation = None
        if options["organisation"]:
            organisation = Organisation.objects.filter(slug=options["organisation"]).first()
            if organisation is None:
                raise CommandError(f"No organisation {options['organisation']}.")
        dry_run = options["dry_run"]
        done = receipts_issue_missing(organisation=organisation, dry_run=dry_run)
        for order, by, receipt in done:
            paid = f"{order.paid_at:%Y-%m-%d}" if order.paid_at else "?"
            if dry_run:
                self.stdout.write(
                    f"Order {order.pk} ({order.campaign.slug}, paid {paid}): would get a receipt of {by.slug}"
                )
            else:
                self.stdout.write(
                    f"Order {order.pk} ({order.campaign.slug}, paid {paid}): receipt {receipt.display_number} of {by.slug}"
                )
                if settings.RECEIPTS_DELIVER_WHEN_ISSUED:
                    enqueue(deliver_receipt, receipt.pk)
        if dry_run:
            self.stdout.write(f"{len(done)} orders would get a receipt (dry run: nothing changed).")
        else:
            self.stdout.write(self.style.SUCCESS(f"{len(done)} receipts issued."))
