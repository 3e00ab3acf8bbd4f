"""The groups that make the roles, and a profile for every user who existed before profiles."""

from django.conf import settings
from django.db import migrations

# Permissions are normally created after all migrations (post_migrate); the groups need them
# now, so they are created here. post_migrate later finds them and leaves them alone.
ROLE_PERMISSIONS = {
    "shliach": [("register_names", "Can register names (shliach)")],
    "hanhala": [("view_reports", "Can read the reports of their campaigns (hanhala)")],
}


def groups_create(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    content_type, _ = ContentType.objects.get_or_create(app_label="accounts", model="profile")
    for group_name, permissions in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for codename, name in permissions:
            permission, _ = Permission.objects.get_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )
            group.permissions.add(permission)


def profiles_create(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    Profile = apps.get_model("accounts", "Profile")
    # Each row gets its own referral code: the field's default is a callable.
    Profile.objects.bulk_create(
        [Profile(user_id=user_id) for user_id in User.objects.filter(profile__isnull=True).values_list("id", flat=True)],
        batch_size=1000,
    )


def groups_remove(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLE_PERMISSIONS)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_role_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(groups_create, groups_remove),
        migrations.RunPython(profiles_create, migrations.RunPython.noop),
    ]
