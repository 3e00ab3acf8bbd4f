"""What receipts announce; higher apps listen (monitoring counts it)."""

from django.dispatch import Signal

# The sweeper queued again receipts still not drawn or emailed: count.
receipts_queued_again = Signal()
