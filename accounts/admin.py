from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .models import Profile

User = get_user_model()


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    fields = ("campaigns", "offline_payment_limit", "referral_code", "language")
    readonly_fields = ("referral_code",)
    filter_horizontal = ("campaigns",)


class UserWithProfileAdmin(UserAdmin):
    inlines = [ProfileInline]

    def get_inline_instances(self, request, obj=None):
        # On the add form the profile is created by the signal when the user is saved; an
        # inline there would try to create a second one.
        return super().get_inline_instances(request, obj) if obj is not None else []


# Django's own user admin, with the profile below it; groups keep Django's own admin.
admin.site.unregister(User)
admin.site.register(User, UserWithProfileAdmin)
