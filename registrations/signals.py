"""What registrations announce; higher apps listen (monitoring counts it)."""

from django.dispatch import Signal

# An import was refused (its rows' problems or a limit of the file): import_id, and step,
# "check" (before the shliach confirmed) or "import" (the file or their names changed since).
import_refused = Signal()
