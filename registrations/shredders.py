"""The personal data of bulk registration (core.privacy; the privacy app runs every shredder):
a shliach's imports (the files uploaded, the rows previewed) and grid drafts. The names imported
are in their orders, whose own shredder erases them."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext_lazy

from core.privacy import Shredder, Subject

from .card_services import card_photos_delete_expired
from .models import CardPhoto, ImportStatus, NameDraft, NameImport

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


class CardPhotosShredder(Shredder):
    """The photos of paper cards the accounts with the address uploaded or typed. Exported as
    which cards, when and in what state (not the photos or the names typed: they are the people
    on the cards, whose names are in their orders). A card is its team's work, not the account's:
    erasing the account leaves it in the team's queue; erasing a card's order empties its entries
    and deletes its photo. Photos of saved cards are deleted
    CARD_PHOTOS_KEPT_DAYS after their names were saved (as the daily task of registrations does)."""

    identifier = "card_photos"
    verbose_name = gettext_lazy("Photos of paper cards")
    position = 85

    def export(self, *, subject: Subject):
        users = subject.user_ids
        if not users:
            return []
        cards = (
            CardPhoto.objects.filter(
                Q(uploaded_by_id__in=users) | Q(first_entry_by_id__in=users) | Q(second_entry_by_id__in=users)
            )
            .select_related("team")
            .order_by("pk")
        )
        return [
            {
                "id": card.pk,
                "team": card.team.slug,
                "state": card.state,
                "uploaded": card.uploaded_by_id in users,
                "uploaded_at": _when(card.uploaded_at),
                "typed_first": card.first_entry_by_id in users,
                "typed_second": card.second_entry_by_id in users,
                "order_id": card.order_id,
                "saved_at": _when(card.saved_at),
                "photo_kept": bool(card.photo),
            }
            for card in cards
        ]

    def erase(self, *, subject: Subject, now: datetime.datetime) -> int:
        """The cards of the orders erased (an erasure, or a retention by age): their entries (the
        names typed) emptied and their photos deleted, as the orders' names are erased."""
        if not subject.order_ids:
            return 0
        cards = list(CardPhoto.objects.select_for_update().filter(order_id__in=subject.order_ids))
        files = [(card.photo.storage, card.photo.name) for card in cards if card.photo]
        erased = CardPhoto.objects.filter(pk__in=[card.pk for card in cards])
        erased.update(photo="", first_entry=[])
        erased.filter(second_entry__isnull=False).update(second_entry=[])
        transaction.on_commit(lambda: [storage.delete(name) for storage, name in files], robust=True)
        return len(cards)

    def expire(self, *, now: datetime.datetime) -> int:
        return card_photos_delete_expired(now=now)


def registrations_shredders(sender, **kwargs) -> list[Shredder]:
    """registrations' answer to core.privacy.shredders_register (RegistrationsConfig.ready)."""
    return [NameImportsShredder(), CardPhotosShredder()]
