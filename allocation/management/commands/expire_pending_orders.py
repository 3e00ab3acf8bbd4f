from django.conf import settings
from django.core.management.base import BaseCommand

from allocation.services import orders_expire_pending
from allocation.services.lifecycle import EXPIRE_BATCH


class Command(BaseCommand):
    help = (
        "Cancel the orders still unpaid PENDING_ORDER_TTL_MINUTES after they were made (as the beat task "
        "does every minute). Their open card payments are cancelled at Stripe; money that arrives later "
        "still pays them."
    )

    def handle(self, *args, **options):
        expired = batch = orders_expire_pending()
        while batch == EXPIRE_BATCH:  # the beat task does a batch a minute; the command does them all
            batch = orders_expire_pending()
            expired += batch
        self.stdout.write(
            f"{expired} pending orders older than {settings.PENDING_ORDER_TTL_MINUTES} minutes cancelled."
        )
