"""What scrolls announce; higher apps listen (allocation keeps a scroll's honour letters).
Sent inside the transaction that does it, so a listener's work commits or rolls back with it,
and a listener may refuse (raise ValidationError) what is about to happen; except
scroll_filled, sent once it is committed (core.signals.announce_on_commit)."""

from django.dispatch import Signal

# A scroll was opened: scroll.
scroll_opened = Signal()

# An empty scroll is about to take another size (another text edition): scroll, total_letters.
scroll_resizing = Signal()

# An empty scroll took another size: scroll.
scroll_resized = Signal()

# A scroll's walk reached its end: it is full (waiting for its siyum) and the next one is open:
# scroll_id, campaign_id, next_scroll_id.
scroll_filled = Signal()

# The cached progress should be rebuilt (a change committed, and no refresh is queued yet):
# scrolls.receivers queues the task that does it.
progress_refresh_wanted = Signal()
