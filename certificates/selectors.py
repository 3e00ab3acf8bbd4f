from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse

from allocation.models import Name, Order
from allocation.selectors import names_letters_describe

from .models import Certificate, normalize_verification_code


def certificate_by_code(code: str) -> Certificate | None:
    """The certificate with this code as typed (any case, with or without hyphens)."""
    code = normalize_verification_code(code)
    if code is None:
        return None
    return Certificate.objects.select_related("name__order__campaign", "name__letter__scroll").filter(code=code).first()


def certificate_verify_describe(*, certificate: Certificate) -> dict:
    """What the public verification page shows: the name, the campaign, the scroll and the
    letter (only its parsha where the campaign discloses no more). Nothing else about anyone."""
    name = certificate.name
    [item] = names_letters_describe(names=[name], campaign=name.order.campaign, viewer=None)
    return {
        "certificate": certificate,
        "display_name": name.display_name,
        "deceased": name.deceased,
        "campaign": name.order.campaign,
        "letter": item["letter"],
    }


def certificates_by_name_id(*, names) -> dict[int, Certificate]:
    """The certificates of these names (those issued), by name id, in few queries."""
    ids = [name.pk for name in names]
    found = {}
    for start in range(0, len(ids), 5000):
        found |= {c.name_id: c for c in Certificate.objects.filter(name_id__in=ids[start : start + 5000])}
    return found


def order_certificates(*, order: Order) -> QuerySet:
    return Certificate.objects.filter(name__order=order).select_related("name").order_by("name_id")


def order_names_without_certificate(*, order_id: int) -> QuerySet:
    return Name.objects.filter(order_id=order_id, letter__isnull=False, certificate__isnull=True).order_by("id")


def order_all_certificates_issued(*, order: Order) -> bool:
    return order.allocated_at is not None and not order_names_without_certificate(order_id=order.pk).exists()


def _absolute(url: str, request=None) -> str:
    return request.build_absolute_uri(url) if request is not None else f"{settings.SITE_URL}{url}"


def certificate_urls(*, certificate: Certificate, order: Order, request=None) -> dict:
    """The certificate's download link (by the order's unguessable token) and its public
    verification page."""
    return {
        "code": certificate.code,
        "download_url": _absolute(
            reverse("certificate-download", kwargs={"token": order.token, "code": certificate.code}), request
        ),
        "verify_url": _absolute(reverse("certificate-verify", kwargs={"code": certificate.code}), request),
    }


def order_certificate_links(*, order: Order, request=None) -> dict:
    """The order's booklet (every certificate in one PDF) and the CSV of its letters."""
    return {
        "booklet": _absolute(reverse("order-booklet", kwargs={"token": order.token}), request),
        "letters_csv": _absolute(reverse("order-letters-csv", kwargs={"token": order.token}), request),
    }
