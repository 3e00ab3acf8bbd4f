from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


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
