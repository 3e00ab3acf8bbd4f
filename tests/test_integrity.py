"""The integrity check (issue 21): a database built through the real services, honour letters,
a lottery scroll that overflowed, refunds, receipts and certificates included, has no breach;
each invariant broken on purpose (the guard triggers disabled and the constraints dropped
inside the test's transaction, then rows written with SQL) is named by `verify_integrity`; the
nightly task emails staff the breaches by ids only."""

import datetime
import io
import types

import pytest
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from allocation.models import Letter, Name
from allocation.services import order_cancel, order_mark_paid, reservation_create, reservation_give
from certificates.models import Certificate
from certificates.services import order_certificates_issue
from operations.integrity import ALLOCATION_GRACE, CHECKS
from operations.services import integrity_verify
from operations.tasks import verify_integrity
from payments.models import Payment
from payments.services import payment_record_offline, payment_refund
from receipts.models import Receipt

from .conftest import make_user
from .factories import child_name_data, make_order, name_data, shrink_open_scroll

pytestmark = pytest.mark.django_db


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def guards_off(*tables):
    """The guard triggers of these tables off until the test's transaction rolls back (the
    deferred foreign keys checked first: a table with pending trigger events cannot be altered)."""
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    for table in tables:
        sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")


@pytest.fixture(autouse=True)
def receipts_in_a_temporary_folder(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "receipts": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }


@pytest.fixture
def sound(campaigns):
    """Every kind of row the checks read, made by the services: a sequential scroll with an
    honour letter waiting and one given, paid, pending, cancelled and refunded orders, receipts
    and a cancellation note, certificates with their files, and a lottery scroll that filled
    with an honour letter waiting, its orders spilling into the next scroll."""
    staff = make_user("staff", is_staff=True, permissions=["payments.record_offline_payment"])
    call_command(
        "organisation_set", "chabad", "--name", "Chabad", "--jurisdiction", "other", "--campaign", "sefardi",
        stdout=io.StringIO(),
    )  # fmt: skip
    sefardi = campaigns["sefardi"]
    scroll = sefardi.scrolls.get()
    paid = make_order(sefardi, 3)
    payment_record_offline(order=paid, reference="cash 1", recorded_by=staff)  # letters 1-3
    reservation_create(scroll_id=scroll.pk, position=5, honouree="The rav", created_by=staff)
    reservation_create(scroll_id=scroll.pk, position=8, honouree="The rebbetzin", created_by=staff)
    second = make_order(sefardi, 4)
    payment_record_offline(order=second, reference="cash 2", recorded_by=staff)  # 4, 6, 7, 9 (5 and 8 passed)
    honour = reservation_give(reservation_id=scroll.reservations.get(position=8).pk, name=name_data(5), given_by=staff)
    refunded = make_order(sefardi, 1)
    payment_record_offline(order=refunded, reference="cash 3", recorded_by=staff)  # 10
    payment_refund(payment_id=Payment.objects.get(order=refunded).pk, refunded_by=staff)
    pending = make_order(sefardi, 2)
    cancelled = make_order(sefardi, 1)
    order_cancel(order_id=cancelled.pk)
    order_certificates_issue(order_id=paid.pk)

    children = campaigns["children"]
    lottery = shrink_open_scroll(children, 5)
    reservation_create(scroll_id=lottery.pk, position=3, honouree="A child", created_by=staff)
    for count in (2, 4):  # 2 letters, then 2 more fill the scroll (4 letters, 1 honour) and 2 spill over
        order = make_order(children, names=[child_name_data(i) for i in range(count)])
        payment_record_offline(order=order, reference=f"children {count}", recorded_by=staff)
    assert children.scrolls.count() == 2 and Letter.objects.filter(scroll=lottery).count() == 4
    assert Receipt.objects.filter(kind="cancellation").count() == 1
    return types.SimpleNamespace(
        staff=staff, sefardi=sefardi, scroll=scroll, paid=paid, second=second, honour=honour,
        refunded=refunded, pending=pending, cancelled=cancelled, lottery=lottery,
    )  # fmt: skip


def test_a_sound_database_has_no_breach(sound):
    assert Certificate.objects.filter(name__order=sound.paid).count() == 3
    assert integrity_verify(certificate_files_checked=None) == []
    out = io.StringIO()
    call_command("verify_integrity", "--all-files", stdout=out)
    assert out.getvalue().strip() == f"No breach: {len(CHECKS)} checks passed."


def letter_id(scroll, position):
    return Letter.objects.get(scroll=scroll, position=position).pk


def held_twice(data):
    guards_off("allocation_letter")
    sql("ALTER TABLE allocation_letter DROP CONSTRAINT letter_position_unique")
    name = data.pending.names.first()
    sql("INSERT INTO allocation_letter (scroll_id, position, name_id, allocated_at) VALUES (%s, 2, %s, now())",
        [data.scroll.pk, name.pk])  # fmt: skip
    return "Campaign sefardi, scroll 1, letter 2: held by 2 letters."


def honour_letter_taken(data):
    guards_off("allocation_letter")
    name = data.pending.names.first()
    sql("INSERT INTO allocation_letter (scroll_id, position, name_id, allocated_at) VALUES (%s, 5, %s, now())",
        [data.scroll.pk, name.pk])  # fmt: skip
    return "Campaign sefardi, scroll 1, letter 5: an honour letter, written for another name"


def outside(data):
    guards_off("allocation_letter")
    sql("UPDATE allocation_letter SET position = %s WHERE id = %s",
        [data.scroll.total_letters + 1, letter_id(data.scroll, 10)])  # fmt: skip
    return f"Campaign sefardi, scroll 1, letter {data.scroll.total_letters + 1}: outside the scroll"


def gap(data):
    guards_off("allocation_letter")
    sql("UPDATE allocation_letter SET position = 40 WHERE id = %s", [letter_id(data.scroll, 2)])
    return "Campaign sefardi, scroll 1, letters 2: a gap"


def beyond_the_walk(data):
    guards_off("allocation_letter")
    sql("UPDATE allocation_letter SET position = 40 WHERE id = %s", [letter_id(data.scroll, 2)])
    return "Campaign sefardi, scroll 1, letter 40: written beyond the letters given out (10)."


def two_open_scrolls(data):
    guards_off("scrolls_scroll")
    sql("DROP INDEX scroll_one_open_per_campaign")
    sql("INSERT INTO scrolls_scroll (campaign_id, number, total_letters, state, letters_allocated, steps_walked,"
        " opened_at) VALUES (%s, 2, 100, 'open', 0, 0, now())", [data.sefardi.pk])  # fmt: skip
    return "Campaign sefardi: 2 open scrolls, not one."


def paid_order_lost_a_letter(data):
    guards_off("allocation_letter")
    sql("DELETE FROM allocation_letter WHERE id = %s", [letter_id(data.scroll, 3)])
    return f"Order {data.paid.pk} (campaign sefardi, paid): 3 names but 2 letters."


def cancelled_order_holds_a_letter(data):
    guards_off("allocation_letter")
    sql("UPDATE allocation_letter SET name_id = %s WHERE id = %s",
        [data.cancelled.names.get().pk, letter_id(data.scroll, 10)])  # fmt: skip
    return f"Order {data.cancelled.pk} (campaign sefardi, cancelled): holds 1 letters, and may hold none."


def counter_drifted(data):
    sql("UPDATE scrolls_scroll SET letters_allocated = letters_allocated - 1 WHERE id = %s", [data.lottery.pk])
    return "Campaign children, scroll 1: counts 3 letters and 5 steps; its rows hold 4 letters and 5 steps"


def steps_drifted(data):
    guards_off("scrolls_scroll")
    sql("ALTER TABLE scrolls_scroll DROP CONSTRAINT scroll_closed_is_walked")
    sql("UPDATE scrolls_scroll SET steps_walked = 4 WHERE id = %s", [data.lottery.pk])
    return "Campaign children, scroll 1: counts 4 letters and 4 steps; its rows hold 4 letters and 5 steps"


def certificate_file_lost(data):
    certificate = Certificate.objects.filter(name__order=data.paid).first()
    storages["certificates"].delete(certificate.file.name)
    return f"Certificate {certificate.pk} (order {data.paid.pk}, campaign sefardi): its file is missing."


def certificate_without_file(data):
    certificate = Certificate.objects.filter(name__order=data.paid).first()
    sql("UPDATE certificates_certificate SET file = '' WHERE id = %s", [certificate.pk])
    return f"Certificate {certificate.pk} (order {data.paid.pk}, campaign sefardi): issued without a file."


def receipt_renumbered(data):
    guards_off("receipts_receipt")
    year = Receipt.objects.get(order=data.paid).year
    sql("UPDATE receipts_receipt SET number = 7 WHERE kind = 'receipt' AND number = 2")
    return f"Organisation chabad, receipt {year}: numbers 2 missing."


def receipt_counter_behind(data):
    guards_off("receipts_receiptcounter")
    year = Receipt.objects.get(order=data.paid).year
    sql("UPDATE receipts_receiptcounter SET last_number = 2 WHERE series = 'receipt'")
    return f"Organisation chabad, receipt {year}: the counter stands at 2, the last number issued is 3."


BREAKS = {
    "position_held_twice": [held_twice, honour_letter_taken],
    "position_outside_scroll": [outside],
    "scroll_gap": [gap, beyond_the_walk],
    "open_scrolls": [two_open_scrolls],
    "order_letters": [paid_order_lost_a_letter, cancelled_order_holds_a_letter],
    "scroll_counters": [counter_drifted, steps_drifted],
    "certificate_file": [certificate_file_lost, certificate_without_file],
    "receipt_numbers": [receipt_renumbered, receipt_counter_behind],
}


def test_every_check_has_an_invariant_broken_for_it():
    assert set(BREAKS) == set(CHECKS)


@pytest.mark.parametrize(
    ("check", "breaking"),
    [(check, breaking) for check, ways in BREAKS.items() for breaking in ways],
    ids=lambda value: getattr(value, "__name__", value),
)
def test_a_broken_invariant_is_named(sound, check, breaking):
    expected = breaking(sound)
    breaches = integrity_verify(certificate_files_checked=None)
    assert any(breach.check == check and expected in breach.message for breach in breaches), breaches
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"\d+ breaches found"):
        call_command("verify_integrity", "--all-files", stdout=out)
    assert f"[{check}] " in out.getvalue() and expected in out.getvalue()


def test_a_paid_order_without_letters_is_the_sweepers_work_until_the_grace_has_passed(sound):
    order = make_order(sound.sefardi, 2)
    order_mark_paid(order_id=order.pk)  # paid, its allocation not run yet
    assert integrity_verify() == []
    later = timezone.now() + ALLOCATION_GRACE + datetime.timedelta(minutes=1)
    [breach] = integrity_verify(as_of=later)
    assert (breach.check, breach.order) == ("order_letters", order.pk)
    assert breach.message == f"Order {order.pk} (campaign sefardi, paid): 2 names but 0 letters."


def test_certificates_files_are_looked_for_in_a_bounded_sample(sound, settings):
    newest = Certificate.objects.filter(name__order=sound.paid).order_by("-id").first()
    storages["certificates"].delete(newest.file.name)
    settings.INTEGRITY_CERTIFICATE_FILES_CHECKED = 1  # the newest only
    assert [breach.check for breach in integrity_verify()] == ["certificate_file"]
    oldest = Certificate.objects.filter(name__order=sound.paid).order_by("id").first()
    storages["certificates"].save(newest.file.name, io.BytesIO(b"%PDF"))
    storages["certificates"].delete(oldest.file.name)
    assert integrity_verify() == []  # the oldest is not in a sample of one
    assert [breach.check for breach in integrity_verify(certificate_files_checked=None)] == ["certificate_file"]


def test_the_nightly_task_emails_staff_the_breaches_by_ids_only(sound, settings, mailoutbox):
    settings.INTEGRITY_ALERT_EMAILS = []
    settings.PAYMENTS_ALERT_EMAILS = ["payments@example.org"]
    mailoutbox.clear()  # the buyers' emails
    verify_integrity()
    assert mailoutbox == []  # nothing to say
    paid_order_lost_a_letter(sound)
    verify_integrity()
    [email] = mailoutbox
    assert email.to == ["payments@example.org"]
    breaches = integrity_verify()  # the letter's order, the gap it left, the scroll's count
    assert len(breaches) == 3 and email.subject == "Integrity check: 3 breaches found"
    assert all(str(breach) in email.body for breach in breaches)
    assert f"[order_letters] Order {sound.paid.pk} (campaign sefardi, paid): 3 names but 2 letters." in email.body
    people = [sound.paid.buyer_name, sound.paid.buyer_email, *Name.objects.values_list("hebrew_name", flat=True)]
    assert not [value for value in people if value and value in email.body]
    settings.INTEGRITY_ALERT_EMAILS = ["night@example.org"]
    verify_integrity()
    assert mailoutbox[-1].to == ["night@example.org"]


def test_the_nightly_check_is_scheduled(settings):
    assert settings.CELERY_BEAT_SCHEDULE["verify-integrity"]["task"] == "operations.tasks.verify_integrity"
