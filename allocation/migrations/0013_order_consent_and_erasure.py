"""The consent recorded with each order (when, and to which privacy notice), and the moment its
personal data were erased: an erased order needs neither a buyer address nor an account."""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('allocation', '0012_order_guard_trigger'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='order',
            name='order_has_buyer_or_account',
        ),
        migrations.AddField(
            model_name='historicalorder',
            name='consent_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='consent given'),
        ),
        migrations.AddField(
            model_name='historicalorder',
            name='erased_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='personal data erased'),
        ),
        migrations.AddField(
            model_name='historicalorder',
            name='privacy_notice_version',
            field=models.CharField(blank=True, default='', editable=False, max_length=32, verbose_name='privacy notice consented to'),
        ),
        migrations.AddField(
            model_name='order',
            name='consent_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='consent given'),
        ),
        migrations.AddField(
            model_name='order',
            name='erased_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='personal data erased'),
        ),
        migrations.AddField(
            model_name='order',
            name='privacy_notice_version',
            field=models.CharField(blank=True, default='', editable=False, max_length=32, verbose_name='privacy notice consented to'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('buyer_email', ''), _negated=True), ('created_by__isnull', False), ('erased_at__isnull', False), _connector='OR'), name='order_has_buyer_or_account'),
        ),
        migrations.AddConstraint(
            model_name='order',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('consent_at__isnull', True), ('privacy_notice_version', '')), models.Q(('consent_at__isnull', False), models.Q(('privacy_notice_version', ''), _negated=True)), _connector='OR'), name='order_consent_has_date_and_version'),
        ),
    ]
