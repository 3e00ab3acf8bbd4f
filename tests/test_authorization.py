"""Who may reach what: every URL of the project against every role, each answer the expected one.

The table below lists every URL pattern the resolver knows (admin internals aside): a new URL
fails `test_every_url_is_classified` until it is given its row. Objects in the URLs belong to
"shliach" (an import, an API order) or to "buyer" (an order reached by its secret link); the
other roles own nothing there, so for them an object of someone else's is "not found" (404), as
everywhere in the app.

Roles: anon (signed out, no link), buyer (signed out, holding their own order's link), shliach
(the owner), other_shliach (same permissions, owns nothing), hanhala_other (reads sefardi's
reports), hanhala (reads idf's), staff.
"""

import io
import secrets

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import Profile
from allocation.models import Gift
from allocation.services import order_allocate, order_mark_paid, reservation_create
from certificates.models import Certificate
from certificates.services import order_certificates_issue
from receipts.services import organisation_set
from registrations.card_services import card_photos_upload
from registrations.services import name_import_check, name_import_create
from teams.services import team_create

from .conftest import make_user, token_client
from .factories import make_order, name_data, shrink_open_scroll

pytestmark = pytest.mark.django_db

ROLES = ["anon", "buyer", "shliach", "other_shliach", "hanhala_other", "hanhala", "staff"]
SIGN_IN = "sign-in"  # a redirect to /accounts/login/


def answers(default, **by_role):
    return {role: by_role.get(role, default) for role in ROLES}


PUBLIC = answers(200)
# Signed in as staff, or sent to sign in; any other user refused.
STAFF_ONLY = answers(403, anon=SIGN_IN, buyer=SIGN_IN, staff=200)
# A shliach's own page: shluchim (and staff) in, others refused, signed out sent to sign in.
SHLUCHIM = answers(403, anon=SIGN_IN, buyer=SIGN_IN, shliach=200, other_shliach=200, staff=200)
# A shliach's own object: another shliach (or staff) does not find it.
OWNED = answers(403, anon=SIGN_IN, buyer=SIGN_IN, shliach=200, other_shliach=404, staff=404)
# The hanhala of the campaign and staff; the hanhala of another campaign does not find it.
REPORTS = answers(403, anon=SIGN_IN, buyer=SIGN_IN, hanhala_other=404, hanhala=200, staff=200)
# Reached by the order's secret link: whoever holds it (buyer, and anyone they send it to).
BY_LINK = answers(200, anon=404)
# The API's order files: the creator (token) and staff; nobody else finds the order.
API_OWNED = answers(404, shliach=200, staff=200)

# pattern name -> (path template, expected answer per role). {token} is the buyer's order link
# (a forged one for anon), {code} its certificate, {import} the shliach's import, {api_order}
# the shliach's API order and {api_code} its certificate, {week} the last week ended.
TABLE = {
    "healthz": ("/healthz/", PUBLIC),
    # Prometheus' scrape: not there without METRICS_TOKEN (tests/test_monitoring.py: with it).
    "metrics": ("/metrics", answers(404)),
    "admin:index": ("/admin/", answers(302, staff=200)),  # the admin's own sign-in
    # The admin's sign-in, counted with /accounts/login/ (core.security.sign_in_rate_limited).
    "admin-login": ("/admin/login/", answers(200, staff=302)),
    "api:campaign-list": ("/api/v1/campaigns/", PUBLIC),
    # 404 for all here: no text of the Torah is loaded in this test (test_text_editions reads it).
    "api:scroll-position": ("/api/v1/campaigns/idf/scrolls/1/positions/1/", answers(404)),
    "api:order-create": ("/api/v1/orders/", answers(405, anon=405, buyer=405)),  # POST only
    "api:order-detail": ("/api/v1/orders/{api_order}/", API_OWNED),
    "api:order-certificate": ("/api/v1/orders/{api_order}/certificates/{api_code}.pdf", API_OWNED),
    "api:order-booklet": ("/api/v1/orders/{api_order}/booklet.pdf", API_OWNED),
    "api:order-letters-csv": ("/api/v1/orders/{api_order}/letters.csv", API_OWNED),
    "api:order-receipt": ("/api/v1/orders/{api_order}/receipt.pdf", API_OWNED),
    # Nobody finds a cancellation note: the order was not refunded.
    "api:order-receipt-cancellation": ("/api/v1/orders/{api_order}/receipt-cancellation.pdf", answers(404)),
    "api-schema": ("/api/schema/", PUBLIC),
    "set_language": ("/i18n/setlang/", answers(302)),  # GET changes nothing, back to the site
    "stripe-webhook": ("/payments/stripe/webhook/", answers(405)),  # POST only
    # Apple fetches it, signed out (world() sets APPLE_PAY_DOMAIN_ASSOCIATION_FILE).
    "apple-pay-domain-association": ("/.well-known/apple-developer-merchantid-domain-association", PUBLIC),
    "registrations:import-new": ("/shliach/import/", SHLUCHIM),
    "registrations:import-detail": ("/shliach/imports/{import}/", OWNED),
    "registrations:import-status": ("/shliach/imports/{import}/status/", OWNED),
    "registrations:grid": ("/shliach/grid/idf/", SHLUCHIM),
    "registrations:grid-draft": (
        "/shliach/grid/idf/draft/",
        answers(403, anon=401, buyer=401, shliach=200, other_shliach=200, staff=200),
    ),
    "registrations:grid-submit": ("/shliach/grid/idf/submit/", answers(405, anon=SIGN_IN, buyer=SIGN_IN)),
    # The photos of paper cards: {team} is the shliach's team, {card} its queued card. The team
    # (its owner, its members) and staff; for everyone else the team's cards do not exist, and
    # the photo itself is 404 even signed out (nobody learns it is there).
    "registrations:card-photos": (
        "/shliach/teams/{team}/cards/",
        answers(404, anon=SIGN_IN, buyer=SIGN_IN, shliach=200, staff=200),
    ),
    "registrations:card-photo": ("/shliach/cards/{card}/photo", answers(404, shliach=200, staff=200)),
    "registrations:card-type": (
        "/shliach/cards/{card}/type/",
        answers(404, anon=SIGN_IN, buyer=SIGN_IN, shliach=200, staff=200),
    ),
    # Only a card whose two entries differ is settled: a queued card has nothing to settle.
    "registrations:card-settle": ("/shliach/cards/{card}/settle/", answers(404, anon=SIGN_IN, buyer=SIGN_IN)),
    "registrations:card-delete": ("/shliach/cards/{card}/delete/", answers(405, anon=SIGN_IN, buyer=SIGN_IN)),
    "reports:index": (
        "/reports/",
        answers(403, anon=SIGN_IN, buyer=SIGN_IN, hanhala_other=302, hanhala=302, staff=302),
    ),  # to the first campaign's report
    "reports:dashboard": ("/reports/idf/", REPORTS),
    "reports:pdf": ("/reports/idf/week-ending-{week}.pdf", REPORTS),
    "reports:csv": ("/reports/idf/week-ending-{week}.csv", REPORTS),
    "siyum:honours": ("/staff/honours/", STAFF_ONLY),
    "siyum:honour-give": ("/staff/honours/{reservation}/give/", STAFF_ONLY),
    "siyum:honour-edit": ("/staff/honours/{reservation}/edit/", STAFF_ONLY),
    "siyum:honour-cancel": (
        "/staff/honours/{reservation}/cancel/",
        answers(403, anon=SIGN_IN, buyer=SIGN_IN, staff=405),
    ),
    "siyum:list": ("/staff/siyum/", STAFF_ONLY),
    "siyum:hold": ("/staff/siyum/{scroll}/", STAFF_ONLY),
    "campaign-detail": ("/campaigns/idf/", PUBLIC),
    "scroll-detail": ("/campaigns/idf/scrolls/1/", PUBLIC),
    "scroll-names": ("/campaigns/idf/scrolls/1/names/", PUBLIC),
    "letter-detail": ("/campaigns/idf/scrolls/1/letters/{position}/", PUBLIC),  # the buyer's letter, unlisted
    "accounts:login": ("/accounts/login/", answers(302, anon=200, buyer=200)),  # signed in: on
    "accounts:logout": ("/accounts/logout/", answers(405)),  # POST only
    "accounts:password_reset": ("/accounts/password_reset/", PUBLIC),
    "accounts:password_reset_done": ("/accounts/password_reset/done/", PUBLIC),
    # A link that is not valid says so (on a page of its own, after Django's redirect).
    "accounts:password_reset_confirm": ("/accounts/reset/MQ/set-password/", PUBLIC),
    "accounts:password_reset_complete": ("/accounts/reset/done/", PUBLIC),
    "accounts:referral": ("/r/{referral}/", answers(302)),  # remembered, then on to the site
    "registrations:dashboard": ("/shliach/", SHLUCHIM),
    "certificate-verify": ("/verify/{code}/", PUBLIC),
    "letters-lookup": ("/letters/lookup/", PUBLIC),
    "letters-lookup-name": ("/letters/lookup/name/", PUBLIC),  # the form (POST looks)
    # The Hebrew transliteration helper (empty q: no suggestion, still 200).
    "names-transliterate": ("/names/transliterate/", PUBLIC),
    "order-booklet": ("/orders/{token}/certificates/booklet.pdf", BY_LINK),
    "certificate-download": ("/orders/{token}/certificates/{code}.pdf", BY_LINK),
    "order-letters-csv": ("/orders/{token}/letters.csv", BY_LINK),
    "receipt-download": ("/orders/{token}/receipt.pdf", BY_LINK),
    "receipt-cancellation-download": ("/orders/{token}/receipt-cancellation.pdf", answers(404)),  # not refunded
    "receipts-statement-request": ("/receipts/statement/", PUBLIC),
    # Only a link we emailed (signed, unexpired) draws a statement: a made-up one finds nothing.
    "receipts-statement": ("/receipts/statement/not-a-link-we-sent/", answers(404)),
    "receipts:organisations": ("/staff/organisations/", STAFF_ONLY),
    "receipts:organisation-new": ("/staff/organisations/new/", STAFF_ONLY),
    "receipts:organisation-edit": ("/staff/organisations/{organisation}/", STAFF_ONLY),
    # The treasurer's view: staff with receipts.view_accounts (as this staff member has).
    "accounts-report": ("/staff/accounts/", STAFF_ONLY),
    "accounts-report-csv": ("/staff/accounts/{organisation}/2025-03.csv", STAFF_ONLY),
    "accounts-report-pdf": ("/staff/accounts/{organisation}/2025-03.pdf", STAFF_ONLY),
    "order-buy": ("/buy/idf/", PUBLIC),
    "order-done": ("/orders/{token}/", BY_LINK),
    "order-pay": ("/orders/{token}/pay/", answers(302, anon=404)),  # paid: on to its letters
    "order-pay-demo": ("/orders/{token}/pay/demo/", answers(405)),  # POST only
    "order-again": ("/orders/{token}/again/", answers(405)),  # POST only
    "order-another": ("/orders/{token}/another/", answers(405)),  # POST only
    # Share images are public; a version that is not the current one is sent on to it (302).
    "sharing:site": ("/share/site/0.png", answers(302)),
    "sharing:campaign": ("/share/campaigns/idf/0.png", answers(302)),
    "sharing:scroll": ("/share/campaigns/idf/scrolls/1/0.png", answers(302)),
    "sharing:letter": ("/share/letters/{code}/0.png", answers(302)),
    "sharing:position": ("/share/campaigns/idf/scrolls/1/letters/{position}/0.png", answers(302)),
    "home": ("/", PUBLIC),
    "privacy:notice": ("/privacy/", PUBLIC),
    "privacy:self-export": ("/privacy/export/", PUBLIC),
    # Only a link we emailed (signed, unexpired) downloads anything: a made-up one finds nothing.
    "privacy:self-export-download": ("/privacy/export/not-a-link-we-sent/", answers(404)),
    "privacy:staff": ("/staff/privacy/", STAFF_ONLY),
    "privacy:staff-export": ("/staff/privacy/export/", answers(403, anon=SIGN_IN, buyer=SIGN_IN, staff=405)),
    "privacy:staff-erase": ("/staff/privacy/erase/", answers(403, anon=SIGN_IN, buyer=SIGN_IN, staff=405)),
    # A gift's recipient's page, by its own unguessable token (whoever holds it: the recipient).
    "gift-page": ("/gifts/{gift_token}/", PUBLIC),
    "gift-resend": ("/orders/{token}/gifts/{gift}/resend/", answers(405)),  # POST only
    # Teams: {team} is the shliach's team. Opening one is for shluchim (and staff); changing it
    # for its owner and staff (a member, another shliach: 404); its page, its current photo and
    # the campaign's board are public, as is the API's list; POST /api/v1/teams/ needs a token.
    "team-new": ("/teams/new/", SHLUCHIM),
    "team-page": ("/teams/{team}/", PUBLIC),
    "team-edit": ("/teams/{team}/edit/", answers(404, anon=SIGN_IN, buyer=SIGN_IN, shliach=200, staff=200)),
    "team-photo": ("/teams/{team}/photo/{team_photo}", PUBLIC),
    "team-cards": ("/teams/{team}/cards.pdf", PUBLIC),  # the paper cards: whoever collects prints them
    "campaign-teams": ("/campaigns/idf/teams/", PUBLIC),
    "api:campaign-teams": ("/api/v1/campaigns/idf/teams/", PUBLIC),
    "api:team-create": ("/api/v1/teams/", answers(405, anon=401, buyer=401)),  # POST only
    "campaign-widget": ("/widget/idf/", PUBLIC),
    "campaign-widget-script": ("/widget/idf.js", PUBLIC),
}


def url_names(resolver=None, namespace=""):
    """Every named URL pattern, namespaced ("api:order-detail"); of the admin only its index."""
    resolver = resolver or get_resolver()
    names = set()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            if entry.namespace == "admin":
                names.add("admin:index")  # the admin's own pages are Django's, guarded by is_staff
                continue
            names |= url_names(entry, inner)
        elif isinstance(entry, URLPattern):
            # Every route must be named to be classified; an unnamed one shows up as its regex.
            names.add(f"{namespace}{entry.name}" if entry.name else f"unnamed {entry.pattern}")
    return names


def test_every_url_is_classified():
    names = url_names()
    assert names - set(TABLE) == set(), "classify the new URLs in TABLE"
    assert set(TABLE) - names == set(), "remove the URLs that no longer exist from TABLE"


def card_photo_file():
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (240, 240, 230)).save(out, "JPEG")
    return SimpleUploadedFile("card.jpg", out.getvalue(), content_type="image/jpeg")


def hanhala_of(username, campaign):
    user = make_user(username, permissions=["accounts.view_reports"])
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.campaigns.add(campaign)
    return user


def allocated(order):
    order_mark_paid(order_id=order.pk)
    order_allocate(order_id=order.pk)
    order_certificates_issue(order_id=order.pk)
    return order


@pytest.fixture
def world(campaigns, settings, tmp_path):
    from reports.weeks import campaign_zone, week_last_ended

    apple_pay_file = tmp_path / "apple-developer-merchantid-domain-association"
    apple_pay_file.write_text("the file Stripe gives the account")
    settings.APPLE_PAY_DOMAIN_ASSOCIATION_FILE = str(apple_pay_file)

    registrar = ["accounts.register_names", "payments.record_offline_payment"]
    users = {
        "shliach": make_user("owner-shliach", permissions=registrar),
        "other_shliach": make_user("other-shliach", permissions=registrar),
        "hanhala_other": hanhala_of("hanhala-sefardi", campaigns["sefardi"]),
        "hanhala": hanhala_of("hanhala-idf", campaigns["idf"]),
        "staff": make_user("staff-member", is_staff=True, permissions=[*registrar, "receipts.view_accounts"]),
    }
    idf = campaigns["idf"]
    # idf's organisation issues the orders' receipts.
    organisation, _ = organisation_set(slug="keren", name="Keren", jurisdiction="other", campaign_slugs=["idf"])
    buyer_order = allocated(make_order(idf, 1))
    other_order = allocated(make_order(idf, 1))
    api_order = allocated(make_order(idf, 1, created_by=users["shliach"]))
    gift_order = make_order(idf, names=[name_data(0, gift={"recipient_name": "R", "recipient_email": "r@example.org"})])
    gift = Gift.objects.get(name__order=gift_order)
    name_import = name_import_create(user=users["shliach"], campaign=idf, source_name="names.csv",
                                     content=b"hebrew_name,parent_hebrew_name,gender\n\xd7\xa9\xd7\xa8\xd7\x94,"
                                             b"\xd7\x9c\xd7\x90\xd7\x94,f\n")  # fmt: skip
    name_import_check(import_id=name_import.pk)
    scroll = idf.scrolls.get(state="open")
    full = shrink_open_scroll(campaigns["sefardi"], 1)  # a full scroll awaits its siyum
    allocated(make_order(campaigns["sefardi"], 1))
    reservation = reservation_create(scroll_id=scroll.pk, position=scroll.total_letters, honouree="Rabbi",
                                     created_by=users["staff"])  # fmt: skip
    team = team_create(
        campaign=idf, owner=users["shliach"], name="The owner's team", goal_letters=10, photo=card_photo_file()
    )
    [card] = card_photos_upload(team=team, user=users["shliach"], files=[card_photo_file()])
    values = {
        "token": buyer_order.token,
        "code": Certificate.objects.get(name__order=buyer_order).code,
        "position": buyer_order.names.get().letter.position,
        "other_token": other_order.token,
        "other_code": Certificate.objects.get(name__order=other_order).code,
        "api_order": api_order.pk,
        "api_code": Certificate.objects.get(name__order=api_order).code,
        "import": name_import.pk,
        "reservation": reservation.pk,
        "scroll": full.pk,
        "referral": Profile.objects.get_or_create(user=users["shliach"])[0].referral_code,
        "week": week_last_ended(zone=campaign_zone(idf)).ending.isoformat(),
        "organisation": organisation.slug,
        "gift": gift.pk,
        "gift_token": gift.token,
        "team": team.slug,
        "team_photo": team.photo.name.rsplit("/", 1)[-1],
        "card": card.pk,
    }
    return users, values


def client_for(role, users):
    client = APIClient()  # the API's token users and the pages' session users alike
    if role in users:
        client.force_login(users[role])
        client.credentials(HTTP_AUTHORIZATION=token_client(users[role])._credentials["HTTP_AUTHORIZATION"])
    return client


def answer_of(response):
    if response.status_code == 302 and response["Location"].startswith("/accounts/login/"):
        return SIGN_IN
    return response.status_code


def test_each_role_gets_the_expected_answer_from_every_url(world):
    # One test for all roles: the objects (and their certificates) are built once.
    users, values = world
    wrong = {}
    for role in ROLES:
        client = client_for(role, users)
        # Signed out without the link: a token of the same shape that is nobody's.
        link = {**values, "token": secrets.token_urlsafe(24)} if role == "anon" else values
        for name, (template, expected) in TABLE.items():
            got = answer_of(client.get(template.format(**link)))
            if got != expected[role]:
                wrong[(role, name)] = f"{got}, expected {expected[role]}"
    assert wrong == {}


def test_one_buyer_link_does_not_reach_another_buyers_certificate(world, client):
    _, values = world
    own = f"/orders/{values['token']}/certificates/{values['code']}.pdf"
    assert client.get(own).status_code == 200
    # Another order's certificate code, under this buyer's link.
    assert client.get(f"/orders/{values['token']}/certificates/{values['other_code']}.pdf").status_code == 404
    assert client.get(f"/orders/{values['other_token']}/certificates/{values['code']}.pdf").status_code == 404
    # The link's token is the key: a slightly altered one finds nothing.
    altered = values["token"][:-1] + ("A" if values["token"][-1] != "A" else "B")
    assert client.get(f"/orders/{altered}/").status_code == 404


def test_the_api_order_files_are_not_reached_through_another_orders_id(world):
    users, values = world
    client = client_for("shliach", users)
    url = f"/api/v1/orders/{values['api_order']}/certificates/{values['other_code']}.pdf"
    assert client.get(url).status_code == 404
