from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from .selectors import permissions_granted


class EmailOrUsernameBackend(ModelBackend):
    """Sign in with the username, or with the email address (any case) in the username field.

    The username is tried first: a username may itself contain "@". An email address shared by
    several accounts signs in the one whose password matches."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None or not username or password is None or "@" not in username:
            return user
        for candidate in get_user_model()._default_manager.filter(email__iexact=username.strip()).order_by("pk"):
            if candidate.check_password(password) and self.user_can_authenticate(candidate):
                return candidate
        return None

    def get_all_permissions(self, user_obj, obj=None):
        """Every permission of the user, their own and their groups', read in one query (Django
        reads them in two) and kept on the user for the request, as Django keeps its own. Where
        the user was read with them (accounts.authentication), not read again."""
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        permissions = getattr(user_obj, "_all_permissions", None)
        if permissions is None:
            if user_obj.is_superuser:
                rows = Permission.objects.values_list("content_type__app_label", "codename")
                permissions = {f"{app_label}.{codename}" for app_label, codename in rows}
            else:
                permissions = permissions_granted(user=user_obj)
            user_obj._all_permissions = permissions
        return permissions

    @staticmethod
    def permissions_read_with_user(user_obj, names) -> None:
        """Keep the permissions read in the query that read the user (a list of "app.codename",
        accounts.selectors.permissions_granted), so that checking one costs no query of its own."""
        if not user_obj.is_superuser:
            user_obj._all_permissions = set(names)
