from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from scrolls.seed import DEFAULT_CAMPAIGNS
from scrolls.services import campaigns_seed


class Command(BaseCommand):
    help = "Create the standard campaigns, each with scroll #1 open. Safe to run again."

    def handle(self, *args, **options):
        try:
            created = campaigns_seed(campaigns=DEFAULT_CAMPAIGNS)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        if not created:
            self.stdout.write("All campaigns already exist; nothing changed.")
            return
        for campaign in created:
            self.stdout.write(self.style.SUCCESS(f"Created {campaign.slug} with scroll #1 open."))
