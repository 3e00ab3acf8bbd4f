"""Order.gives_gifts, and its value for the orders placed before it: those with a gift."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("allocation", "0017_order_team"),
    ]

    operations = [
        migrations.AddField(
            model_name="historicalorder",
            name="gives_gifts",
            field=models.BooleanField(
                db_default=False, default=False, editable=False, verbose_name="gives letters as gifts"
            ),
        ),
        migrations.AddField(
            model_name="order",
            name="gives_gifts",
            field=models.BooleanField(
                db_default=False, default=False, editable=False, verbose_name="gives letters as gifts"
            ),
        ),
        migrations.RunSQL(
            """
            UPDATE allocation_order SET gives_gifts = true
            WHERE id IN (SELECT name.order_id FROM allocation_name name
                         JOIN allocation_gift gift ON gift.name_id = name.id)
            """,
            migrations.RunSQL.noop,
        ),
    ]
