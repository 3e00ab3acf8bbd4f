"""What the apps' admin classes share."""


class ReadOnlyAdminMixin:
    """Records the admin shows but never lets anyone add, change or delete: they are written by
    the services (letters, certificates, events, notices) and must stay as written."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
