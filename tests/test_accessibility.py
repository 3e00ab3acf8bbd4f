"""The main pages in English, Hebrew and Russian pass axe-core (from the npm registry, installed
by `make test` into node_modules/) in Debian's chromium with no serious or critical violation,
break none of the Content Security Policy's rules, and the buy flow works from the keyboard
alone."""

import datetime
import os
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group
from django.test import Client

from allocation.models import Gift, GiftState, Order
from allocation.services import order_fulfil
from certificates.models import Certificate
from certificates.services import order_certificates_issue

from .conftest import make_user
from .factories import make_order, name_data

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"
FAILING_IMPACTS = {"serious", "critical"}


@pytest.fixture(scope="module")
def axe_script():
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail("axe-core is missing: `make test` should have installed it (npm ci)")
        pytest.skip("axe-core is not installed (make node-packages installs it)")
    return str(AXE)


@pytest.fixture
def demo_payments(settings):
    settings.DEMO_PAYMENTS = True
    settings.STRIPE_SECRET_KEY = ""


def _session_cookie(user, live_server):
    client = Client()
    client.force_login(user)
    name = django_settings.SESSION_COOKIE_NAME
    return {"name": name, "value": client.cookies[name].value, "url": live_server.url}


def _context(browser, live_server, language, user=None):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    cookies = [{"name": django_settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    if user is not None:
        cookies.append(_session_cookie(user, live_server))
    context.add_cookies(cookies)
    return context


def _violations(page, axe_script, label):
    # Evaluated through the DevTools protocol: a <script> added to the page would be refused by
    # the Content Security Policy (it allows no inline script).
    page.evaluate(Path(axe_script).read_text())
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    found = []
    for violation in result["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        nodes = "; ".join(
            f"{' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1].strip()}"
            for node in violation["nodes"][:5]
        )
        found.append(f"{label}: [{violation['impact']}] {violation['id']}: {violation['help']} ({nodes})")
    return found


# Every violation of the Content Security Policy, as the page itself hears of it (the console
# listener catches any reported before this listener exists). tests/test_security.py shows
# both catch a refused inline style.
REPORT_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


def _csp_refused(page, label) -> list[str]:
    """What the browser refused on this page under the Content Security Policy, each labelled."""
    return [f"{label}: {seen}" for seen in page.evaluate("window.__cspViolations")]


def _pages_audited(page, live_server, paths, language, axe_script):
    """Each path opened (200, in `language`), checked by axe and for CSP refusals: (found, refused)."""
    found, refused = [], []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (path, response.status)
        assert page.get_attribute("html", "lang") == language
        found += _violations(page, axe_script, f"{language} {path}")
        refused += _csp_refused(page, f"{language} {path}")
    return found, refused


def test_the_check_itself_finds_an_unlabelled_field(page, axe_script):  # noqa: F811
    page.set_content(
        '<!doctype html><html lang="en"><head><title>Form</title></head>'
        '<body><main><h1>Form</h1><input type="text" id="nameless"></main></body></html>'
    )
    [found] = _violations(page, axe_script, "self-test")
    assert "[critical] label:" in found and "#nameless" in found


@pytest.mark.parametrize("language", ["en", "he", "ru"])
def test_the_main_pages_have_no_serious_accessibility_violation(
    browser, live_server, campaigns, demo_payments, axe_script, language
):
    paid = make_order(campaigns["idf"], 2)
    order_fulfil(order_id=paid.pk)
    order_certificates_issue(order_id=paid.pk)
    certificate = Certificate.objects.filter(name__order=paid).first()
    pending = make_order(campaigns["tomchei-temimim"], 1)
    # A listed name with a dedication: the scroll's list of names, its search and its letter's page.
    listed = make_order(campaigns["idf"], names=[name_data(0, listed=True, dedication_kind="wedding")])
    order_fulfil(order_id=listed.pk)
    listed_position = listed.names.get().letter.position
    shliach = make_user("a11y-shliach", permissions=["accounts.register_names"])
    shliach.groups.add(Group.objects.get_or_create(name="shliach")[0])
    staff = make_user("a11y-staff", is_staff=True)

    visits = {
        None: [
            "/",
            "/buy/idf/",
            f"/orders/{pending.token}/pay/",
            f"/orders/{paid.token}/",
            f"/verify/{certificate.code}/",
            "/letters/lookup/",
            "/accounts/login/",
            "/campaigns/idf/",
            "/campaigns/idf/scrolls/1/",
            "/campaigns/idf/scrolls/1/names/",
            "/campaigns/idf/scrolls/1/names/?hebrew_name=%D7%9E%D7%A0%D7%97%D7%9D",
            "/campaigns/idf/scrolls/1/names/?hebrew_name=%D7%90%D7%99%D7%9F",  # nothing found
            f"/campaigns/idf/scrolls/1/letters/{listed_position}/",
            "/privacy/",
            "/privacy/export/",
        ],
        shliach: ["/shliach/", "/shliach/import/", "/shliach/grid/idf/"],
        staff: [f"/reports/{campaigns['idf'].slug}/", "/staff/privacy/"],
    }
    found = []
    refused = []  # what the browser refused under the Content Security Policy, on any page
    for user, paths in visits.items():
        context = _context(browser, live_server, language, user)
        page = context.new_page()
        page.on(
            "console",
            lambda message, refused=refused: "Content Security Policy" in message.text and refused.append(message.text),
        )
        page.add_init_script(REPORT_CSP_VIOLATIONS)
        found_here, refused_here = _pages_audited(page, live_server, paths, language, axe_script)
        found += found_here
        refused += refused_here
        if user is shliach:
            # The grid's shared Hebrew keyboard open.
            page.goto(f"{live_server.url}/shliach/grid/idf/")
            page.click("[aria-controls='name-grid-hebrew-keyboard']")
            found += _violations(page, axe_script, f"{language} /shliach/grid/idf/ (Hebrew keyboard)")
        if user is None:
            # The buy page with every error showing: labels, messages and their announcement.
            page.goto(f"{live_server.url}/buy/idf/")
            page.click("#continue-to-payment")
            page.wait_for_selector("#form-errors")
            found += _violations(page, axe_script, f"{language} /buy/idf/ (errors)")
            refused += _csp_refused(page, f"{language} /buy/idf/ (errors)")
            # The Hebrew keyboard open, and suggestions for a name typed in Latin letters (hebrew_input.js).
            page.goto(f"{live_server.url}/buy/idf/")
            page.click("[aria-controls='id_names-0-hebrew_name-hebrew-keyboard']")
            page.fill("#id_names-0-parent_hebrew_name", "Chaya Mushka")
            page.wait_for_selector("#id_names-0-parent_hebrew_name-hebrew-suggestions .hebrew-suggestion")
            found += _violations(page, axe_script, f"{language} /buy/idf/ (Hebrew keyboard)")
            refused += _csp_refused(page, f"{language} /buy/idf/ (Hebrew keyboard)")
            # The thank-you page's "add a name for someone who cannot": the buy page, its buyer filled in.
            page.goto(f"{live_server.url}/orders/{paid.token}/")
            page.click("#order-another")
            page.wait_for_selector("#buy-form")
            found += _violations(page, axe_script, f"{language} /buy/idf/ (add a name)")
            refused += _csp_refused(page, f"{language} /buy/idf/ (add a name)")
        context.close()
    assert not found, "Accessibility violations:\n" + "\n".join(found)
    assert not refused, "Content Security Policy violations:\n" + "\n".join(refused)


def _tab_to(page, selector, *, limit=60):
    """Press Tab until the element is focused, as someone without a mouse would."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    raise AssertionError(f"{selector} cannot be reached with Tab")


@pytest.mark.parametrize("language", ["en", "he"])
def test_a_letter_is_bought_with_the_keyboard_alone(browser, live_server, campaigns, demo_payments, language):
    context = _context(browser, live_server, language)
    page = context.new_page()
    page.goto(f"{live_server.url}/buy/idf/")

    # The first stop skips the navigation to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#main-content"
    page.keyboard.press("Enter")

    _tab_to(page, "#id_names-0-hebrew_name")
    page.keyboard.type("מנחם מענדל")
    _tab_to(page, "#id_names-0-parent_hebrew_name")
    page.keyboard.type("חיה מושקא")
    _tab_to(page, "#add-name")
    page.keyboard.press("Enter")  # a second row, and the focus goes to its first field
    assert page.evaluate("document.activeElement.id") == "id_names-1-hebrew_name"
    page.keyboard.type("שרה")
    _tab_to(page, "#id_names-1-gender")
    page.keyboard.press("ArrowDown")  # bas
    _tab_to(page, "#id_names-1-parent_hebrew_name")
    page.keyboard.type("רבקה")
    _tab_to(page, "#id_buyer_name")
    page.keyboard.type("Rivka Cohen")
    _tab_to(page, "#id_buyer_email")
    page.keyboard.type("rivka@example.org")
    _tab_to(page, "#id_consent")
    page.keyboard.press("Space")  # agreed to the privacy notice

    _tab_to(page, "#continue-to-payment")
    page.keyboard.press("Enter")
    page.wait_for_selector("#demo-succeed")
    _tab_to(page, "#demo-succeed")
    page.keyboard.press("Enter")
    page.wait_for_selector("#letters")
    assert page.locator(".letter-row").count() == 2
    order = Order.objects.get()
    assert order.status == "paid" and order.language == language
    context.close()


def test_errors_take_the_focus_and_are_announced(browser, live_server, campaigns, demo_payments):
    context = _context(browser, live_server, "ru")
    page = context.new_page()
    page.goto(f"{live_server.url}/buy/idf/")
    _tab_to(page, "#continue-to-payment")
    page.keyboard.press("Enter")
    page.wait_for_selector("#form-errors")
    summary = page.locator("#form-errors")
    assert summary.get_attribute("role") == "alert" and "Добавьте хотя бы одно имя." in summary.inner_text()
    # The first field in error has the focus, its message read with it.
    focused = page.evaluate("document.activeElement.id")
    assert focused == "id_buyer_name"
    described = page.get_attribute(f"#{focused}", "aria-describedby")
    message = page.inner_text(f"#{described.split()[0]}")
    assert page.get_attribute(f"#{focused}", "aria-invalid") == "true" and message.strip()
    context.close()


@pytest.mark.parametrize("language", ["en", "he", "ru"])
def test_the_staff_page_of_an_address_and_its_erasure_form_have_no_serious_violation(
    browser, live_server, campaigns, axe_script, language
):
    order = make_order(campaigns["idf"], 1)
    staff = make_user(f"a11y-privacy-{language}", is_staff=True, permissions=["privacy.erase_personal_data"])
    context = _context(browser, live_server, language, staff)
    page = context.new_page()
    page.goto(f"{live_server.url}/staff/privacy/")
    page.fill("#id_email", order.buyer_email)
    page.click("#privacy-lookup button[type=submit]")
    page.wait_for_selector("#privacy-erase")
    found = _violations(page, axe_script, f"{language} /staff/privacy/ (an address)")
    page.click("#privacy-erase button[type=submit]")  # no reason, no box: the form's errors
    page.wait_for_selector("#privacy-erase .invalid-feedback")
    found += _violations(page, axe_script, f"{language} /staff/privacy/ (the erasure's errors)")
    assert page.evaluate("document.activeElement.id") == "erase_reason"  # the first field in error
    context.close()
    assert not found, "Accessibility violations:\n" + "\n".join(found)


@pytest.mark.parametrize("language", ["en", "he", "ru"])
def test_the_gift_pages_have_no_serious_accessibility_violation(browser, live_server, campaigns, axe_script, language):
    """A recipient's page, and an order page with a gift delivered, one waiting for its day and
    one refused (with its form to correct the address); the buy page with the gift's fields open."""
    later = datetime.date.today() + datetime.timedelta(days=9)
    names = [
        name_data(0, dedication_kind="success", gift={"recipient_name": "חיה", "recipient_email": "a@example.org"}),
        name_data(1, gift={"recipient_name": "Leah", "recipient_email": "b@example.org", "deliver_on": later}),
        name_data(2, gift={"recipient_name": "Sara", "recipient_email": "c@example.org", "deliver_on": later}),
    ]
    order = make_order(campaigns["idf"], names=names)
    order_fulfil(order_id=order.pk)
    gifts = list(Gift.objects.filter(name__order=order).order_by("id"))
    assert gifts[0].state == GiftState.DELIVERED
    # As the mail server's refusal leaves it (tests/test_gifts.py refuses one for real).
    Gift.objects.filter(pk=gifts[2].pk).update(state=GiftState.FAILED, failure="550 5.1.1 No such user here")
    found = []
    context = _context(browser, live_server, language)
    page = context.new_page()
    for path in (f"/gifts/{gifts[0].token}/", f"/orders/{order.token}/"):
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (path, response.status)
        assert page.get_attribute("html", "lang") == language
        found += _violations(page, axe_script, f"{language} {path}")
    page.goto(f"{live_server.url}/buy/idf/")
    page.click("details.gift summary")
    page.wait_for_selector("#id_names-0-gift_recipient_email", state="visible")
    found += _violations(page, axe_script, f"{language} /buy/idf/ (a gift)")
    context.close()
    assert not found, "Accessibility violations:\n" + "\n".join(found)
