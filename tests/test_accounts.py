"""Accounts and roles: signing in (email or username), password reset, the offline payment
limit, referral links, the shliach dashboard, and who sees what."""

import re
from decimal import Decimal
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.authentication import TokenWithProfileAuthentication
from accounts.models import Profile
from accounts.selectors import campaigns_visible_to
from accounts.services import profile_for
from allocation.models import Order, OrderChannel
from allocation.services import Buyer, order_cancel, order_fulfil
from certificates.services import order_certificates_issue
from payments.services import offline_payment_check

from .conftest import make_user, token_client
from .factories import make_order, name_data
from .test_api import order_payload
from .test_buy_pages import buy_form

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"  # as conftest.make_user


def with_role(user, role):
    user.groups.add(Group.objects.get(name=role))
    return User.objects.get(pk=user.pk)  # fresh instance: permission cache empty


def make_shliach(username, *, permissions=()):
    return with_role(make_user(username, permissions=permissions), "shliach")


def signed_in(client, user):
    client.force_login(user)
    return client


# --- Roles -----------------------------------------------------------------------------------


def test_roles_are_groups_with_their_permissions_and_every_user_has_a_profile(db):
    shliach = make_shliach("levi")
    hanhala = with_role(make_user("board"), "hanhala")
    assert shliach.has_perm("accounts.register_names") and not shliach.has_perm("accounts.view_reports")
    assert hanhala.has_perm("accounts.view_reports") and not hanhala.has_perm("accounts.register_names")
    # A profile from the moment the user exists, each with its own referral code.
    assert Profile.objects.filter(user__in=[shliach, hanhala]).count() == 2
    assert shliach.profile.referral_code != hanhala.profile.referral_code
    assert profile_for(user=shliach) == shliach.profile


def test_hanhala_sees_only_their_own_campaigns(campaigns):
    board = with_role(make_user("board"), "hanhala")
    other = with_role(make_user("other-board"), "hanhala")
    profile_for(user=board).campaigns.add(campaigns["idf"], campaigns["children"])
    profile_for(user=other).campaigns.add(campaigns["sefardi"])
    assert set(campaigns_visible_to(user=board)) == {campaigns["idf"], campaigns["children"]}
    assert list(campaigns_visible_to(user=other)) == [campaigns["sefardi"]]
    assert not campaigns_visible_to(user=make_shliach("levi")).exists()
    assert campaigns_visible_to(user=make_user("staff", is_staff=True)).count() == len(campaigns)


def test_the_user_admin_edits_the_profile_inline(client, campaigns):
    admin = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    shliach = make_shliach("levi")
    signed_in(client, admin)
    page = client.get(f"/admin/auth/user/{shliach.pk}/change/").content.decode()
    assert "offline_payment_limit" in page and shliach.profile.referral_code in page
    # Adding a user: the profile comes from the signal, and only one.
    added = client.post(
        "/admin/auth/user/add/",
        {
            "username": "new",
            "password1": "Another-long-pass-1",
            "password2": "Another-long-pass-1",
            "usable_password": "true",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    assert Profile.objects.filter(user__username="new").count() == 1


# --- Signing in and out, password reset ------------------------------------------------------


def test_sign_in_with_the_email_in_any_case_or_the_username(client, db):
    shliach = make_shliach("sara")  # sara@example.org
    response = client.post("/accounts/login/", {"username": "  SARA@Example.ORG", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/shliach/"
    assert client.session["_auth_user_id"] == str(shliach.pk)
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session

    response = client.post("/accounts/login/", {"username": "sara", "password": PASSWORD})
    assert response.status_code == 302 and client.session["_auth_user_id"] == str(shliach.pk)


def test_a_wrong_password_is_refused(client, db):
    make_shliach("sara")
    for username in ("sara", "sara@example.org"):
        response = client.post("/accounts/login/", {"username": username, "password": "not-the-password"})
        assert response.status_code == 200
        assert "do not match an account" in response.content.decode()
        assert "_auth_user_id" not in client.session


def test_sign_in_goes_to_next_or_home_for_users_without_a_dashboard(client, db):
    make_user("buyer")
    response = client.post("/accounts/login/", {"username": "buyer@example.org", "password": PASSWORD})
    assert response["Location"] == "/"
    client.post("/accounts/logout/")
    response = client.post("/accounts/login/", {"username": "buyer", "password": PASSWORD, "next": "/letters/lookup/"})
    assert response["Location"] == "/letters/lookup/"


def test_navbar_offers_sign_in_then_the_dashboard_and_sign_out(client, db):
    page = client.get("/").content.decode()
    assert 'href="/accounts/login/"' in page and "/shliach/" not in page
    signed_in(client, make_shliach("levi"))
    page = client.get("/").content.decode()
    assert 'href="/shliach/"' in page and 'action="/accounts/logout/"' in page
    response = client.post("/accounts/logout/", follow=True)
    assert response.redirect_chain[-1][0] == "/" and "You have signed out." in response.content.decode()


def test_password_reset_by_email_sets_a_new_password(client, db, mailoutbox):
    shliach = make_shliach("sara")
    response = client.post("/accounts/password_reset/", {"email": "Sara@Example.org"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password_reset/done/"
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["sara@example.org"]
    link = re.search(r"https?://\S+/accounts/reset/\S+/", mailoutbox[0].body).group(0)
    assert link.startswith(django_settings.SITE_URL)

    form_url = client.get(urlparse(link).path)["Location"]  # Django hides the token from the page
    page = client.get(form_url)
    assert page.status_code == 200 and 'name="new_password1"' in page.content.decode()
    done = client.post(form_url, {"new_password1": "Fresh-password-2026", "new_password2": "Fresh-password-2026"})
    assert done["Location"] == "/accounts/reset/done/"

    assert client.login(username="sara@example.org", password="Fresh-password-2026")
    assert not User.objects.get(pk=shliach.pk).check_password(PASSWORD)
    # The link works once.
    assert "expired or has already been used" in client.get(urlparse(link).path, follow=True).content.decode()


def test_password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(client, db, mailoutbox):
    response = client.post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response["Location"] == "/accounts/password_reset/done/" and mailoutbox == []


# --- The offline payment limit ---------------------------------------------------------------


def trusted_with_limit(username, limit):
    user = make_shliach(username, permissions=["payments.record_offline_payment"])
    Profile.objects.filter(user=user).update(offline_payment_limit=limit)
    return User.objects.get(pk=user.pk)


def test_offline_order_up_to_the_limit_is_201_and_above_it_403(campaigns):
    client = token_client(trusted_with_limit("trusted", Decimal("36.00")))  # two names in the IDF campaign (ILS)
    two = client.post("/api/v1/orders/", order_payload(names=[name_data(0), name_data(1)]), format="json")
    assert two.status_code == 201 and two.json()["amount"] == "36.00"

    three = client.post("/api/v1/orders/", order_payload(names=[name_data(i) for i in range(3)]), format="json")
    assert three.status_code == 403
    assert "above your limit" in three.json()["detail"] and "36.00 ILS" in three.json()["detail"]
    # Giving more than the price counts too: the limit is on what the order comes to.
    more = client.post("/api/v1/orders/", order_payload(amount="40.00"), format="json")
    assert more.status_code == 403
    assert Order.objects.count() == 1


def test_no_limit_for_staff_or_an_empty_limit_and_none_without_the_permission(campaigns):
    many = [name_data(i) for i in range(20)]
    unlimited = trusted_with_limit("unlimited", None)
    assert token_client(unlimited).post("/api/v1/orders/", order_payload(names=many), format="json").status_code == 201
    staff = make_user("staff", is_staff=True, permissions=["payments.record_offline_payment"])
    Profile.objects.filter(user=staff).update(offline_payment_limit=Decimal("1.00"))
    assert token_client(staff).post("/api/v1/orders/", order_payload(names=many), format="json").status_code == 201

    with pytest.raises(ValidationError, match="may not record offline payments"):
        offline_payment_check(user=make_shliach("plain"), amount=Decimal("1.00"))
    offline_payment_check(user=trusted_with_limit("exact", Decimal("18.00")), amount=Decimal("18.00"))


# --- Referral links --------------------------------------------------------------------------


def test_a_buyer_from_a_referral_link_is_credited_to_the_shliach(client, campaigns):
    shliach = make_shliach("levi")
    response = client.get(f"/r/{shliach.profile.referral_code}/?next=/buy/idf/")
    assert response.status_code == 302 and response["Location"] == "/buy/idf/"
    assert client.post("/buy/idf/", buy_form()).status_code == 302
    order = Order.objects.get()
    assert order.referred_by == shliach and order.created_by is None and order.channel == OrderChannel.ONLINE

    # The cookie remembers the shliach when the session is gone (signed out, browser closed).
    client.cookies.pop(django_settings.SESSION_COOKIE_NAME)
    client.post("/buy/idf/", buy_form())
    assert Order.objects.filter(referred_by=shliach).count() == 2


def test_the_anonymous_api_credits_the_referral_too(campaigns, settings):
    settings.DEMO_PAYMENTS, settings.STRIPE_SECRET_KEY = True, ""  # the demo card provider
    shliach = make_shliach("levi")
    client = APIClient()
    client.get(f"/r/{shliach.profile.referral_code}/")
    payload = order_payload(payment={"method": "stripe"}, consent=True)
    response = client.post("/api/v1/orders/", payload, format="json")
    assert response.status_code == 201, response.json()
    assert Order.objects.get(pk=response.json()["id"]).referred_by == shliach


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_referral_never_redirects_off_the_site(client, db, target):
    shliach = make_shliach("levi")
    response = client.get(f"/r/{shliach.profile.referral_code}/", {"next": target})
    assert response["Location"] == "/"


def test_unknown_codes_and_users_who_are_not_shluchim_credit_no_one(client, campaigns):
    buyer = make_user("buyer")  # has a code, but is not a shliach
    for code in ("no-such-code", buyer.profile.referral_code):
        response = client.get(f"/r/{code}/")
        assert response.status_code == 302 and response["Location"] == "/"
    client.post("/buy/idf/", buy_form())
    assert Order.objects.get().referred_by is None

    # A shliach who loses the role after the click is not credited.
    shliach = make_shliach("levi")
    client.get(f"/r/{shliach.profile.referral_code}/")
    shliach.groups.clear()
    client.post("/buy/idf/", buy_form())
    assert Order.objects.filter(referred_by__isnull=False).count() == 0


# --- The shliach dashboard -------------------------------------------------------------------


def registered(campaign, shliach, name_count, *, paid=True, **kwargs):
    order = make_order(campaign, name_count, buyer=Buyer(), created_by=shliach, channel=OrderChannel.SHLIACH, **kwargs)
    if paid:
        order_fulfil(order_id=order.pk)
    return order


def test_dashboard_totals_per_campaign(client, campaigns):
    levi = make_shliach("levi")
    idf, sefardi = campaigns["idf"], campaigns["sefardi"]
    with_certificates = registered(idf, levi, 2)
    order_certificates_issue(order_id=with_certificates.pk)
    registered(idf, levi, 1, paid=False)
    referred = make_order(idf, 1, referred_by=levi)
    order_fulfil(order_id=referred.pk)
    registered(sefardi, levi, 3, amount=Decimal("100.00"))
    cancelled = registered(sefardi, levi, 4, paid=False)
    order_cancel(order_id=cancelled.pk)

    response = signed_in(client, levi).get("/shliach/")
    assert response.status_code == 200
    totals = {row["campaign"].slug: row for row in response.context["totals"]["campaigns"]}
    assert {key: totals["idf"][key] for key in ("orders", "paid_orders", "names", "letters", "certificates")} == {
        "orders": 3,
        "paid_orders": 2,
        "names": 4,
        "letters": 3,
        "certificates": 2,
    }
    assert totals["idf"]["amounts"] == [("ILS", Decimal("54.00"))]
    assert totals["sefardi"]["orders"] == 1 and totals["sefardi"]["names"] == 3
    assert totals["sefardi"]["amounts"] == [(sefardi.currency, Decimal("100.00"))]
    grand = response.context["totals"]["total"]
    assert (grand["orders"], grand["names"], grand["letters"]) == (4, 7, 6)

    page = response.content.decode()
    assert f'href="/orders/{with_certificates.token}/"' in page
    # The shliach's own orders: the booklet once every certificate is issued, the CSV of letters.
    assert f'href="/orders/{with_certificates.token}/certificates/booklet.pdf"' in page
    assert f'href="/orders/{with_certificates.token}/letters.csv"' in page
    assert page.count('class="booklet-link') == 1 and page.count('class="letters-csv-link') == 2
    # A buyer who came through the link keeps their letters and certificates to themselves.
    assert referred.token not in page and f"#{referred.pk}" in page
    assert "Through your link" in page and "Registered by you" in page
    # The referral link, its QR code drawn here (a data URI, nothing fetched), and the links
    # to the registration pages.
    assert f"/r/{levi.profile.referral_code}/" in page
    assert 'src="data:image/svg+xml' in page
    assert 'href="/shliach/import/"' in page and 'href="/shliach/grid/idf/"' in page


def test_dashboard_queries_do_not_grow_with_orders_and_the_list_is_paginated(client, campaigns):
    levi = make_shliach("levi")
    registered(campaigns["idf"], levi, 1)
    signed_in(client, levi)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/shliach/").status_code == 200
        return len(captured)

    client.get("/shliach/")  # the first request of a session settles its language cookie
    few = queries()
    for _ in range(3):
        registered(campaigns["idf"], levi, 2)
        registered(campaigns["sefardi"], levi, 1, paid=False)
    assert queries() == few

    Order.objects.bulk_create(
        [Order(campaign=campaigns["idf"], created_by=levi, amount=18, currency="ILS") for _ in range(60)]
    )
    first = client.get("/shliach/")
    assert len(first.context["page"].object_list) == 50 and 'href="?page=2"' in first.content.decode()
    assert len(client.get("/shliach/?page=2").context["page"].object_list) == 67 - 50


def test_the_dashboard_is_for_shluchim_and_staff(client, db):
    assert client.get("/shliach/")["Location"] == "/accounts/login/?next=/shliach/"
    signed_in(client, make_user("buyer"))
    assert client.get("/shliach/").status_code == 403
    signed_in(client, with_role(make_user("board"), "hanhala"))
    assert client.get("/shliach/").status_code == 403
    signed_in(client, make_user("staff", is_staff=True))
    assert client.get("/shliach/").status_code == 200


def test_a_shliach_never_sees_another_shliachs_orders(client, campaigns):
    levi = make_shliach("levi", permissions=["payments.record_offline_payment"])
    sara = make_shliach("sara", permissions=["payments.record_offline_payment"])
    own = token_client(levi).post("/api/v1/orders/", order_payload(), format="json").json()
    others = token_client(sara).post("/api/v1/orders/", order_payload(), format="json").json()
    sara_referred = make_order(campaigns["idf"], 1, referred_by=sara)

    assert token_client(levi).get(f"/api/v1/orders/{own['id']}/").status_code == 200
    assert token_client(levi).get(f"/api/v1/orders/{others['id']}/").status_code == 404
    assert token_client(levi).get(f"/api/v1/orders/{others['id']}/letters.csv").status_code == 404

    response = signed_in(client, levi).get("/shliach/")
    listed = {order.pk for order in response.context["page"].object_list}
    assert listed == {own["id"]}
    page = response.content.decode()
    for order in Order.objects.filter(pk__in=[others["id"], sara_referred.pk]):
        assert order.token not in page
    assert response.context["totals"]["total"]["orders"] == 1


def test_a_users_permissions_are_their_own_and_their_groups_read_once_with_the_token_or_the_session(campaigns):
    shliach = make_shliach("perm-shliach", permissions=["payments.record_offline_payment"])
    outsider = make_user("perm-outsider")
    admin = User.objects.create_superuser("perm-admin", "admin@example.org", PASSWORD)
    group_permissions = {
        f"{p.content_type.app_label}.{p.codename}" for p in Permission.objects.filter(group__name="shliach")
    }
    assert "accounts.register_names" in group_permissions
    expected = group_permissions | {"payments.record_offline_payment"}

    for user, wanted in ((shliach, expected), (outsider, set())):
        session_user = User.objects.get(pk=user.pk)
        assert session_user.get_all_permissions() == wanted
        key = Token.objects.get_or_create(user=user)[0].key
        with CaptureQueriesContext(connection) as read:
            token_user, _ = TokenWithProfileAuthentication().authenticate_credentials(key)
            assert token_user.get_all_permissions() == wanted
            assert token_user.has_perm("payments.record_offline_payment") == (user == shliach)
        assert len(read.captured_queries) == 1  # the token, the user, the profile and the permissions

    # A superuser holds every permission, however they came in.
    key = Token.objects.get_or_create(user=admin)[0].key
    token_admin, _ = TokenWithProfileAuthentication().authenticate_credentials(key)
    assert token_admin.has_perm("payments.record_offline_payment")
    assert token_admin.get_all_permissions() == User.objects.get(pk=admin.pk).get_all_permissions()
    assert len(token_admin.get_all_permissions()) == Permission.objects.count()
