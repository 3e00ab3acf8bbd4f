from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from .backends import EmailOrUsernameBackend
from .selectors import permissions_granted_of_token_user


class TokenWithProfileAuthentication(TokenAuthentication):
    """DRF's token authentication, reading the user's profile and permissions in the same query
    as the user: every call that registers names reads the profile (the offline limit, the
    language) and checks a permission or two."""

    def authenticate_credentials(self, key):
        model = self.get_model()
        try:
            token = (
                model.objects.select_related("user", "user__profile")
                .annotate(user_permissions_granted=permissions_granted_of_token_user())
                .get(key=key)
            )
        except model.DoesNotExist as error:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from error
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        EmailOrUsernameBackend.permissions_read_with_user(token.user, token.user_permissions_granted)
        return token.user, token
