"""What the apps' admin classes share."""

from django.core.exceptions import PermissionDenied


class ReadOnlyAdminMixin:
    """Records the admin shows but never lets anyone add, change or delete: they are written by
    the services (letters, certificates, events, notices) and must stay as written."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _is_staff(request) -> bool:
    user = request.user
    return user.is_active and user.is_staff


class StaffViewAdminMixin:
    """Staff (Django's is_staff) see every campaign and every order, and the audit of them
    (docs/architecture.md, Accounts and roles; Audit): viewing, and so the history page, needs
    no model permission. Adding, changing and deleting still do."""

    def has_module_permission(self, request):
        return _is_staff(request) or super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return _is_staff(request) or super().has_view_permission(request, obj)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        # django-simple-history saves a POST to this page (a revert) having checked only the
        # view permission: without the change permission that would rewrite the row.
        if request.method == "POST" and not self.has_change_history_permission(request):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


class HistoryReadOnlyAdminMixin:
    """The audit of a record only services write (orders, names, payments, honour letters,
    scrolls) is there to read: django-simple-history's revert would write a whole old row back
    (a paid order pending again, its letter left in another campaign's scroll), so it is
    refused outright, whoever asks."""

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)
