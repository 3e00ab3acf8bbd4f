"""The campaigns of ../shared/docs/domain.md, as seeded on a new installation."""

from decimal import Decimal

DEFAULT_CAMPAIGNS = [
    {
        "slug": "tomchei-temimim",
        "name": "Sefer Torah of Tomchei Temimim",
        "name_he": "ספר התורה של תומכי תמימים",
        "description": "For students, alumni, families and supporters of Yeshivas Tomchei Temimim.",
        "description_he": "לתלמידים, לבוגרים, למשפחות ולתומכים של ישיבות תומכי תמימים.",
        "custom": "ari",
        "currency": "USD",
        "price": Decimal("18.00"),
        "time_zone": "America/New_York",
    },
    {
        "slug": "beis-rivkah",
        "name": "Sefer Torah of Beis Rivkah",
        "name_he": "ספר התורה של בית רבקה",
        "description": "For students, families and supporters of Beis Rivkah: buying a letter makes you a supporter.",
        "description_he": "לתלמידות, למשפחות ולתומכים של בית רבקה: הקונה אות נעשה תומך.",
        "custom": "ari",
        "currency": "USD",
        "price": Decimal("18.00"),
        "time_zone": "America/New_York",
    },
    {
        "slug": "sefardi",
        "name": "Sefardi Sefer Torah",
        "name_he": "ספר תורה לבני עדות המזרח",
        "description": "For Jews of Sefardi custom, written in the Velish script.",
        "description_he": "ליהודים בני עדות המזרח, בכתב וועליש.",
        "custom": "sefard",
        "currency": "USD",
        "price": Decimal("18.00"),
        "time_zone": "America/New_York",
    },
    {
        "slug": "idf",
        "name": "Sefer Torah of the IDF",
        "name_he": "ספר התורה של חיילי צה״ל",
        "description": "For soldiers and security forces of the Israel Defense Forces.",
        "description_he": "לחיילי צבא ההגנה לישראל ולכוחות הביטחון.",
        "custom": "ashkenaz",
        "currency": "ILS",
        "price": Decimal("18.00"),
        "time_zone": "Asia/Jerusalem",
    },
    {
        "slug": "russian-jewry",
        "name": "Sefer Torah of Russian Jewry",
        "name_he": "ספר התורה של יהדות רוסיה",
        "description": "For the Jews of the former Soviet Union, often bought on their behalf by others.",
        "description_he": "ליהודי ברית המועצות לשעבר, פעמים רבות בשמם על ידי אחרים.",
        "custom": "ari",
        "currency": "USD",
        "price": Decimal("18.00"),
        "time_zone": "America/New_York",
    },
    {
        "slug": "children",
        "name": "Sefer Torah of Jewish Children",
        "name_he": "ספר התורה של ילדי ישראל",
        "description": (
            "The children's Sefer Torah: for boys under 13 and girls under 12. Letters are given by "
            "lottery, and the child is told the parsha of their letter."
        ),
        "description_he": (
            "ספר התורה של ילדי ישראל: לבנים עד גיל 13 ולבנות עד גיל 12. האותיות ניתנות בגורל, "
            "והילד מקבל את שם הפרשה של האות שלו."
        ),
        "custom": "ari",
        "currency": "USD",
        "price": Decimal("1.00"),
        "time_zone": "America/New_York",
        "allocation_mode": "lottery",
        "discloses_parsha_only": True,
        "boys_under_age": 13,
        "girls_under_age": 12,
    },
    {
        "slug": "world-of-truth",
        "name": "Sefer Torah for the World of Truth",
        "name_he": "ספר תורה לעלמא דקשוט",
        "description": (
            "Letters in memory of those who have passed away, for the elevation of their souls. "
            "Each is given with the father's name."
        ),
        "description_he": "אותיות לעילוי נשמת מי שהלכו לעולמם. כל שם נכתב עם שם האב.",
        "custom": "ari",
        "currency": "USD",
        "price": Decimal("18.00"),
        "time_zone": "America/New_York",
        "for_the_departed": True,
        "parent_is_father": True,
    },
]
