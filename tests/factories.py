"""Small builders for test data, going through the real services."""

import itertools

from allocation.services import Buyer, order_create

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


def make_order(campaign, name_count=1, **kwargs):
    serial = next(_counter)
    kwargs.setdefault("buyer", Buyer(name=f"Buyer {serial}", email=f"buyer{serial}@example.org"))
    return order_create(
        campaign=campaign, names=[name_data(i) for i in range(name_count)], **kwargs
    )


def shrink_open_scroll(campaign, total_letters):
    """Make a campaign's (empty) open scroll small, so a test can fill it."""
    scroll = campaign.scrolls.get(state="open")
    assert scroll.letters_allocated == 0
    scroll.total_letters = total_letters
    scroll.save(update_fields=["total_letters"])
    return scroll
