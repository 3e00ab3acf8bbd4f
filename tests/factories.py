"""Small builders for test data, going through the real services."""

import datetime
import itertools

from allocation.services import Buyer, order_place, scroll_honours_before_resize, scroll_honours_default_create

_HEBREW_NAMES = ["מנחם מענדל", "חיה מושקא", "יוסף יצחק", "שרה", "אברהם", "רבקה", "לוי יצחק", "דבורה לאה"]
_counter = itertools.count(1)


def name_data(index=0, **overrides):
    data = {
        "hebrew_name": _HEBREW_NAMES[index % len(_HEBREW_NAMES)],
        "parent_hebrew_name": "מרים",
        "gender": "m" if index % 2 == 0 else "f",
        "english_name": f"Person {index}",
        "city": "Brooklyn",
        "country": "US",
    }
    data.update(overrides)
    return data


def make_order(campaign, name_count=1, names=None, **kwargs):
    serial = next(_counter)
    kwargs.setdefault("buyer", Buyer(name=f"Buyer {serial}", email=f"buyer{serial}@example.org"))
    if names is None:
        names = [name_data(i) for i in range(name_count)]
    return order_place(campaign=campaign, names=names, **kwargs)


def child_name_data(index=0, *, age_in_years=8, **overrides):
    """A name for the children's campaign: a child of the given age, boy or girl by index."""
    today = datetime.date.today()
    born = today.replace(year=today.year - age_in_years, day=min(today.day, 28))
    return name_data(index, date_of_birth=born, **overrides)


def shrink_open_scroll(campaign, total_letters):
    """Make a campaign's (empty) open scroll small, so a test can fill it. A scroll of a text
    edition has the edition's letters, so the small one is written from no text."""
    scroll = campaign.scrolls.get(state="open")
    assert scroll.letters_allocated == 0
    # The campaign's default honour letters (if it has any) move to the ends of the small scroll.
    scroll_honours_before_resize(scroll=scroll, total_letters=total_letters)
    scroll.edition = None
    scroll.total_letters = total_letters
    scroll.save(update_fields=["edition", "total_letters"])
    scroll_honours_default_create(scroll=scroll)
    return scroll
