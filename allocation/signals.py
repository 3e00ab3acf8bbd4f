"""What allocation announces; higher apps listen (connected in their AppConfig.ready). Each is
sent once the transaction that did it commits (core.signals.announce_on_commit), with ids;
except order_status_changing, sent inside it."""

from django.dispatch import Signal

# An order moved along its lifecycle (allocation.services.lifecycle): order_id, campaign_id,
# team_id (None for an order that counts for no team), old and new status (OrderStatus values), and the reason of a cancellation ("" otherwise).
order_status_changed = Signal()

# The same move, sent inside the transaction that makes it (before order_status_changed, which
# waits for the commit): order, old, new. What a listener writes commits or rolls back with the
# move, e.g. a receipt's number taken with the payment. A listener must not raise for a case it
# does not handle: its exception undoes the move.
order_status_changing = Signal()

# Every name of an order now holds a letter: order_id, campaign_id, and gives_gifts (whether
# any of its names is given to someone, Order.gives_gifts).
letters_allocated = Signal()

# An allocation failed after its order was paid (the sweeper would find it later): order_id.
allocation_failed = Signal()

# A name was corrected: name_id, and the fields that changed (a frozenset of names).
name_corrected = Signal()

# The sweeper found paid orders still without letters and allocated them: count.
paid_orders_swept = Signal()
