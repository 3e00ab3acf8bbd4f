"""The consent a shliach gives for the people they register (the grid, an import's confirmation),
kept with the import until order_place records it on the order."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('registrations', '0002_name_import_attempts'),
    ]

    operations = [
        migrations.AddField(
            model_name='nameimport',
            name='consent_given_at',
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name='consent given'),
        ),
        migrations.AddField(
            model_name='nameimport',
            name='consent_notice_version',
            field=models.CharField(blank=True, default='', editable=False, max_length=32, verbose_name='privacy notice consented to'),
        ),
        migrations.AddConstraint(
            model_name='nameimport',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('consent_given_at__isnull', True), ('consent_notice_version', '')), models.Q(('consent_given_at__isnull', False), models.Q(('consent_notice_version', ''), _negated=True)), _connector='OR'), name='name_import_consent_has_date_and_version'),
        ),
    ]
