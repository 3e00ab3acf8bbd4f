"""What certificates announce; higher apps listen (monitoring counts it)."""

from django.dispatch import Signal

# The sweeper queued again the certificates of orders still without them: count.
certificates_queued_again = Signal()
