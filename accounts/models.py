import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from scrolls.models import Campaign


def new_referral_code():
    return secrets.token_urlsafe(8)


class Role(models.TextChoices):
    """The Django groups that make a role; staff is Django's own is_staff."""

    SHLIACH = "shliach", _("Shliach")
    HANHALA = "hanhala", _("Hanhala")


class Profile(models.Model):
    """What a user has beyond Django's own user: the campaigns a hanhala member reads, how much
    offline money a trusted shliach may record, and the shliach's referral code."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile", verbose_name=_("user")
    )
    campaigns = models.ManyToManyField(
        Campaign,
        blank=True,
        related_name="hanhala_profiles",
        verbose_name=_("campaigns (hanhala)"),
        help_text=_("The campaigns whose reports and data this hanhala member may read."),
    )
    # Per order, in the order's currency; empty means no limit. Only users with the permission
    # to record offline payments may record any.
    offline_payment_limit = models.DecimalField(
        _("offline payment limit per order"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    referral_code = models.CharField(
        _("referral code"), max_length=32, unique=True, default=new_referral_code, editable=False
    )
    # The language the user last chose on the site: pages after signing in anywhere, and the
    # emails sent to them. Blank: the site's default.
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES, default="")

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")
        # The roles' own permissions; the groups of the same names carry them (migration 0003).
        permissions = [
            ("register_names", _("Can register names (shliach)")),
            ("view_reports", _("Can read the reports of their campaigns (hanhala)")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(offline_payment_limit__isnull=True) | Q(offline_payment_limit__gte=0),
                name="profile_offline_limit_not_negative",
            ),
        ]

    def __str__(self):
        return str(self.user)
