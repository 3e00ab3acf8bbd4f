"""The personal data of bulk registration (core.privacy; the privacy app runs every shredder):
a shliach's imports (the files uploaded, the rows previewed) and grid drafts. The names imported
are in their orders, whose own shredder erases them."""

import datetime

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext_lazy

from core.privacy import Shredder, Subject

from .models import ImportStatus, NameDraft, NameImport

# Imports whose work is over: their file is read no more.
FINISHED = (ImportStatus.IMPORTED, ImportStatus.REFUSED, ImportStatus.FAILED)


def _when(value):
    return value.isoformat() if value else None


def _files_delete(imports) -> int:
    """Delete the files of these imports (once the transaction commits) and what was read of
    them (the preview); returns how many imports had one."""
    stale = [(name_import.file.storage, name_import.file.name) for name_import in imports if name_import.file]
    NameImport.objects.filter(pk__in=[name_import.pk for name_import in imports]).update(file="", preview=[])
    transaction.on_commit(lambda: [storage.delete(path) for storage, path in stale], robust=True)
    return len(stale)


class NameImportsShredder(Shredder):
    """The imports and drafts of the accounts with the address. Exported as what was imported
    when (not the rows: they are the people registered, in their orders); erased with the
    account: files, previews, file names and drafts. Finished imports' files are deleted
    IMPORT_FILES_KEPT_DAYS after they were made (their names are in their order by then)."""

    identifier = "name_imports"
    verbose_name = gettext_lazy("Imports and drafts of names")
    position = 80

    def export(self, *, subject: Subject):
        imports = NameImport.objects.filter(created_by_id__in=subject.user_ids).select_related("campaign")
        drafts = NameDraft.objects.filter(created_by_id__in=subject.user_ids).select_related("campaign")
        return {
            "imports": [
                {
                    "id": name_import.pk,
                    "campaign": name_import.campaign.slug,
                    "source": name_import.source_name,
                    "created_at": _when(name_import.created_at),
                    "status": name_import.status,
                    "rows": name_import.row_count,
                    "order_id": name_import.order_id,
                    "file_kept": bool(name_import.file),
                    "consent": {
                        "given_at": _when(name_import.consent_given_at),
                        "privacy_notice_version": name_import.consent_notice_version,
                    }
                    if name_import.consent_given_at
                    else None,
                }
                for name_import in imports.order_by("pk")
            ],
            "drafts": [
                {"campaign": draft.campaign.slug, "rows": len(draft.rows or []), "saved_at": _when(draft.updated_at)}
                for draft in drafts.order_by("pk")
            ],
        }

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        if not subject.user_ids:
            return 0
        # An import under way is left to finish (its worker holds it); the rest lose their file.
        imports = list(
            NameImport.objects.select_for_update()
            .filter(created_by_id__in=subject.user_ids)
            .exclude(status__in=[ImportStatus.CHECKING, ImportStatus.IMPORTING])
        )
        _files_delete(imports)
        NameImport.objects.filter(pk__in=[name_import.pk for name_import in imports]).update(source_name="—")
        drafts, _ = NameDraft.objects.filter(created_by_id__in=subject.user_ids).delete()
        return len(imports) + drafts

    def expire(self, *, now: datetime.datetime) -> int:
        days = settings.IMPORT_FILES_KEPT_DAYS
        if not days:
            return 0
        old = (
            NameImport.objects.select_for_update(skip_locked=True)
            .filter(status__in=FINISHED, created_at__lt=now - datetime.timedelta(days=days))
            .exclude(file="")
        )
        return _files_delete(list(old[:1000]))


def registrations_shredders(sender, **kwargs) -> list[Shredder]:
    """registrations' answer to core.privacy.shredders_register (RegistrationsConfig.ready)."""
    return [NameImportsShredder()]
