"""The share tags of the public pages ({% share_meta_... %} in base.html's share_meta block) and
the thank-you page's share links ({% order_share_links %})."""

from urllib.parse import quote, urlencode

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils import translation
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from sharing.selectors import campaign_card, letter_card_of, position_card_of, scroll_card_of, site_card

register = template.Library()

# og:locale of each of the site's languages.
OG_LOCALES = {"he": "he_IL", "en": "en_US", "ru": "ru_RU"}
DESCRIPTION_LENGTH = 200


def _meta(context, *, card, title, description):
    request = context.get("request")
    language = translation.get_language() or settings.LANGUAGE_CODE
    locale = OG_LOCALES.get(language, OG_LOCALES["en"])
    return {
        "title": title,
        "description": Truncator(description or "").chars(DESCRIPTION_LENGTH),
        "url": settings.SITE_URL + (request.path if request is not None else "/"),
        "image": card.url,
        "locale": locale,
        "alternates": [other for other in OG_LOCALES.values() if other != locale],
    }


def _in_language(hebrew, other):
    return hebrew if translation.get_language() == "he" and hebrew else other


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_site(context):
    return _meta(
        context,
        card=site_card(),
        title=_("Write your letter in a communal Sefer Torah"),
        description=_(
            "Every letter of these Torah scrolls is written in the name of one Jew. Choose a campaign and your name is written in the next letter."
        ),
    )


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_campaign(context, campaign):
    return _meta(
        context,
        card=campaign_card(slug=campaign.slug),
        title=_in_language(campaign.name_he, campaign.name),
        description=_in_language(campaign.description_he, campaign.description),
    )


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_team(context, team):
    """A team's page: its name and message, with its campaign's card (a team has no card of its own)."""
    campaign = team.campaign
    return _meta(
        context,
        card=campaign_card(slug=campaign.slug),
        title=_("%(team)s · %(campaign)s")
        % {"team": team.display_name(), "campaign": _in_language(campaign.name_he, campaign.name)},
        description=team.message or _in_language(campaign.description_he, campaign.description),
    )


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_scroll(context, scroll):
    campaign = scroll.campaign
    return _meta(
        context,
        card=scroll_card_of(scroll=scroll),
        title=_("Scroll %(number)s of the %(name)s") % {"number": scroll.number, "name": campaign.name},
        description=_in_language(campaign.description_he, campaign.description),
    )


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_letter(context, certificate, campaign, letter):
    """The public verification page of a certificate: the letter, never the name in it."""
    return _meta(
        context,
        card=letter_card_of(certificate=certificate, campaign=campaign, letter=letter),
        title=_("A letter written in %(campaign)s") % {"campaign": _in_language(campaign.name_he, campaign.name)},
        description=_("Every letter of this Torah scroll is written in the name of one Jew."),
    )


@register.inclusion_tag("sharing/meta.html", takes_context=True)
def share_meta_position(context, scroll, position, total, identity):
    """A letter's own page (a position of a scroll): the letter, never the name, even a listed one."""
    campaign = scroll.campaign
    return _meta(
        context,
        card=position_card_of(scroll=scroll, position=position, total=total, identity=identity),
        title=_("Letter %(position)s of scroll %(number)s") % {"position": intcomma(position), "number": scroll.number},
        description=_("A letter written in %(campaign)s") % {"campaign": _in_language(campaign.name_he, campaign.name)},
    )


@register.simple_tag
def order_share_links(order):
    """Links that share the order's campaign page (never the order's own page, whose address is
    the buyer's key), with words in the order's language."""
    url = settings.SITE_URL + reverse("campaign-detail", kwargs={"slug": order.campaign.slug})
    with translation.override(order.language or settings.LANGUAGE_CODE):
        campaign = _in_language(order.campaign.name_he, order.campaign.name)
        text = _(
            "I took part in writing a Sefer Torah, %(campaign)s: each of its letters is written in the name of one Jew. Add your name too:"
        ) % {"campaign": campaign}
        subject = _("Write your letter in a Sefer Torah")
        language = translation.get_language()
    return {
        "url": url,
        "text": text,
        "language": language,
        "whatsapp": "https://wa.me/?" + urlencode({"text": f"{text} {url}"}, quote_via=quote),
        "telegram": "https://t.me/share/url?" + urlencode({"url": url, "text": text}, quote_via=quote),
        "email": "mailto:?" + urlencode({"subject": subject, "body": f"{text}\n{url}"}, quote_via=quote),
    }
