REGISTER_PERMISSION = "accounts.register_names"


def user_may_register_names(*, user) -> bool:
    """Shluchim (the permission comes with the group) and staff register names in bulk."""
    return bool(user.is_authenticated and (user.is_staff or user.has_perm(REGISTER_PERMISSION)))
