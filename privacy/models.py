from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class PrivacyAction(models.TextChoices):
    EXPORT = "export", _("Exported by staff")
    SELF_EXPORT = "self_export", _("Exported by the person (emailed link)")
    ERASURE = "erasure", _("Erased on request")
    RETENTION = "retention", _("Erased after the retention period")


class PrivacyLog(models.Model):
    """The audit of what was done with a person's data: who, why and when, and how many rows of
    each kind. It keeps no address, only its keyed hash (privacy.services.address_hash), so that
    a later request about the same address is recognised without the log holding it. Rows are
    never changed or deleted (privacy/migrations/0002)."""

    action = models.CharField(_("action"), max_length=16, choices=PrivacyAction.choices)
    subject_hash = models.CharField(_("address (keyed hash)"), max_length=64, blank=True, db_index=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
    )
    # Who ran the command (the login name, or --operator), when no staff member signed in did it.
    operator = models.CharField(_("operator"), max_length=150, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    # Rows exported or erased, by kind (the shredders' identifiers).
    counts = models.JSONField(_("rows by kind"), default=dict, blank=True)
    # The orders erased (ids only): staff can tell which orders read "erased" and why.
    order_ids = models.JSONField(_("orders"), default=list, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("privacy log entry")
        verbose_name_plural = _("privacy log")
        ordering = ["-id"]
        permissions = [("erase_personal_data", _("Can erase a person's data"))]
        constraints = [
            models.CheckConstraint(condition=Q(action__in=PrivacyAction.values), name="privacy_log_action_known"),
            # An erasure on request says who and why; an export by staff, who.
            models.CheckConstraint(
                condition=~Q(action="erasure") | (~Q(reason="") & (Q(by__isnull=False) | ~Q(operator=""))),
                name="privacy_log_erasure_has_who_and_why",
            ),
            models.CheckConstraint(
                condition=~Q(action="export") | Q(by__isnull=False) | ~Q(operator=""),
                name="privacy_log_export_has_who",
            ),
        ]

    def __str__(self):
        return f"{self.get_action_display()} {self.created_at:%Y-%m-%d %H:%M}"
