"""The built-in vocabulary of the demo dataset: names, places, plans, bundles.

Plain data, no I/O and no randomness: the seeder picks from these lists with
hashes of row ids, so a list's order is part of the dataset. Appending keeps
earlier picks stable only by accident; any edit changes the dataset.
Everything fictional that could reach a real person (e-mail domains) uses the
reserved ``example.*`` names.
"""

from __future__ import annotations

from dataclasses import dataclass

# Service categories in bit order: a bundle is a bit mask over this tuple.
CATEGORIES: tuple[str, ...] = ("LOCAL", "LONG_DISTANCE", "WIRELESS", "INTERNET", "VIDEO")
LOCAL, LONG_DISTANCE, WIRELESS, INTERNET, VIDEO = (1 << i for i in range(len(CATEGORIES)))


@dataclass(frozen=True)
class Place:
    """A city a customer can live in: its state, first ZIP code and area code."""

    state: str
    city: str
    zip_code: int
    area_code: str
    weight: int  # roughly the city's share of the state's population, in 100k


def _places() -> tuple[Place, ...]:
    # (state, population in 100k, [(city, first ZIP, area code), ...])
    states: list[tuple[str, int, list[tuple[str, int, str]]]] = [
        ("AL", 50, [("Birmingham", 35203, "205"), ("Montgomery", 36104, "334")]),
        ("AK", 7, [("Anchorage", 99501, "907")]),
        ("AZ", 72, [("Phoenix", 85004, "602"), ("Tucson", 85701, "520")]),
        ("AR", 30, [("Little Rock", 72201, "501")]),
        ("CA", 395, [("Los Angeles", 90012, "213"), ("San Francisco", 94103, "415"),
                     ("San Diego", 92101, "619"), ("Sacramento", 95814, "916")]),
        ("CO", 58, [("Denver", 80202, "303"), ("Colorado Springs", 80903, "719")]),
        ("CT", 36, [("Hartford", 6103, "860")]),
        ("DE", 10, [("Wilmington", 19801, "302")]),
        ("DC", 7, [("Washington", 20001, "202")]),
        ("FL", 218, [("Miami", 33130, "305"), ("Orlando", 32801, "407"),
                     ("Tampa", 33602, "813"), ("Jacksonville", 32202, "904")]),
        ("GA", 108, [("Atlanta", 30303, "404"), ("Savannah", 31401, "912")]),
        ("HI", 14, [("Honolulu", 96813, "808")]),
        ("ID", 19, [("Boise", 83702, "208")]),
        ("IL", 128, [("Chicago", 60601, "312"), ("Springfield", 62701, "217")]),
        ("IN", 68, [("Indianapolis", 46204, "317"), ("Fort Wayne", 46802, "260")]),
        ("IA", 32, [("Des Moines", 50309, "515")]),
        ("KS", 29, [("Wichita", 67202, "316")]),
        ("KY", 45, [("Louisville", 40202, "502"), ("Lexington", 40507, "859")]),
        ("LA", 46, [("New Orleans", 70112, "504"), ("Baton Rouge", 70801, "225")]),
        ("ME", 14, [("Portland", 4101, "207")]),
        ("MD", 62, [("Baltimore", 21202, "410")]),
        ("MA", 70, [("Boston", 2108, "617"), ("Worcester", 1608, "508")]),
        ("MI", 101, [("Detroit", 48226, "313"), ("Grand Rapids", 49503, "616")]),
        ("MN", 57, [("Minneapolis", 55401, "612"), ("Saint Paul", 55101, "651")]),
        ("MS", 30, [("Jackson", 39201, "601")]),
        ("MO", 62, [("Kansas City", 64106, "816"), ("St. Louis", 63101, "314")]),
        ("MT", 11, [("Billings", 59101, "406")]),
        ("NE", 20, [("Omaha", 68102, "402")]),
        ("NV", 31, [("Las Vegas", 89101, "702"), ("Reno", 89501, "775")]),
        ("NH", 14, [("Manchester", 3101, "603")]),
        ("NJ", 93, [("Newark", 7102, "973"), ("Jersey City", 7302, "201")]),
        ("NM", 21, [("Albuquerque", 87102, "505")]),
        ("NY", 202, [("New York", 10001, "212"), ("Brooklyn", 11201, "718"),
                     ("Buffalo", 14202, "716"), ("Albany", 12207, "518")]),
        ("NC", 105, [("Charlotte", 28202, "704"), ("Raleigh", 27601, "919")]),
        ("ND", 8, [("Fargo", 58102, "701")]),
        ("OH", 118, [("Columbus", 43215, "614"), ("Cleveland", 44113, "216"),
                     ("Cincinnati", 45202, "513")]),
        ("OK", 40, [("Oklahoma City", 73102, "405"), ("Tulsa", 74103, "918")]),
        ("OR", 42, [("Portland", 97204, "503"), ("Eugene", 97401, "541")]),
        ("PA", 130, [("Philadelphia", 19107, "215"), ("Pittsburgh", 15222, "412")]),
        ("RI", 11, [("Providence", 2903, "401")]),
        ("SC", 51, [("Columbia", 29201, "803"), ("Charleston", 29401, "843")]),
        ("SD", 9, [("Sioux Falls", 57104, "605")]),
        ("TN", 69, [("Nashville", 37203, "615"), ("Memphis", 38103, "901")]),
        ("TX", 291, [("Houston", 77002, "713"), ("Dallas", 75201, "214"),
                     ("Austin", 78701, "512"), ("San Antonio", 78205, "210")]),
        ("UT", 33, [("Salt Lake City", 84111, "801")]),
        ("VT", 6, [("Burlington", 5401, "802")]),
        ("VA", 86, [("Richmond", 23219, "804"), ("Virginia Beach", 23451, "757")]),
        ("WA", 77, [("Seattle", 98101, "206"), ("Spokane", 99201, "509")]),
        ("WV", 18, [("Charleston", 25301, "304")]),
        ("WI", 59, [("Milwaukee", 53202, "414"), ("Madison", 53703, "608")]),
        ("WY", 6, [("Cheyenne", 82001, "307")]),
    ]
    return tuple(
        Place(state, city, zip_code, area, max(1, round(population / len(cities))))
        for state, population, cities in states
        for city, zip_code, area in cities
    )


PLACES: tuple[Place, ...] = _places()

FIRST_NAMES: tuple[str, ...] = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Carlos", "Karen", "Daniel", "Lisa", "Matthew", "Nancy",
    "Anthony", "Betty", "Mark", "Sandra", "Luis", "Ashley", "Steven", "Maria",
    "Wei", "Emily", "Andrew", "Michelle", "Kevin", "Amanda", "Brian", "Melissa",
    "Jose", "Deborah", "Ahmed", "Stephanie", "Ryan", "Priya", "Jacob", "Fatima",
    "Tyrone", "Keiko", "Dmitri", "Ana", "Kwame", "Aisha", "Hiroshi", "Olga",
)

LAST_NAMES: tuple[str, ...] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson",
    "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker",
    "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Kim", "Patel", "Chen", "Okafor", "O'Brien", "Kowalski",
    "Schmidt", "Yamamoto", "Ivanova", "Haddad", "Da Silva", "McAllister",
)

BUSINESS_KINDS: tuple[str, ...] = (
    "Plumbing", "Dental Group", "Logistics LLC", "Auto Repair", "Law Offices",
    "Bakery", "Hardware", "Consulting Inc.", "Family Farms", "Realty",
    "Printing Co.", "Veterinary Clinic", "Construction", "Landscaping",
    "Insurance Agency", "Pharmacy", "Fitness", "Catering", "Accounting", "Florist",
)

STREETS: tuple[str, ...] = (
    "Main", "Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill",
    "Park", "Sunset", "Lincoln", "Jefferson", "Highland", "River", "Church", "Mill",
    "Spring", "Ridge", "Meadow", "Franklin", "Chestnut", "Walnut", "Willow",
)
STREET_SUFFIXES: tuple[str, ...] = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct", "Way")

EMAIL_DOMAINS: tuple[str, ...] = ("example.com", "example.net", "example.org", "mail.example.com")

APPROVAL_CHANNELS: tuple[str, ...] = ("PHONE", "WEB", "MAIL", "IVR", "RETAIL_STORE")


@dataclass(frozen=True)
class Plan:
    name: str
    monthly_cents: int
    bandwidth_mbps: int | None = None
    equipment: str | None = None  # what the plan needs; else picked from EQUIPMENT


PLANS_PER_SLOT = 4

# (segment, category) -> exactly PLANS_PER_SLOT plans; segment 0 residential, 1 business.
PLANS: dict[tuple[int, str], tuple[Plan, ...]] = {
    (0, "LOCAL"): (Plan("Basic Line", 2499), Plan("Unlimited Local", 3499),
                   Plan("Local Plus", 3999), Plan("Lifeline", 999)),
    (0, "LONG_DISTANCE"): (Plan("Pay Per Minute", 499), Plan("Nationwide 500", 1499),
                           Plan("Unlimited Nationwide", 2499), Plan("World Saver", 2999)),
    (0, "WIRELESS"): (Plan("Talk & Text", 2999), Plan("Unlimited", 6499),
                      Plan("Unlimited Plus", 8499), Plan("Family Share", 11999)),
    (0, "INTERNET"): (Plan("DSL 25", 3999, 25, "DSL modem ZX-2000"),
                      Plan("Fiber 100", 5499, 100, "Fiber ONT G-240"),
                      Plan("Fiber 300", 6999, 300, "Fiber ONT G-240"),
                      Plan("Fiber Gig", 8999, 1000, "Wi-Fi 6 gateway BGW320")),
    (0, "VIDEO"): (Plan("Basic TV", 3499), Plan("Choice TV", 6999),
                   Plan("Ultimate TV", 10499), Plan("Sports & Movies", 12999)),
    (1, "LOCAL"): (Plan("Business Line", 4499), Plan("Business Trunk 8", 19999),
                   Plan("PRI 23", 39999), Plan("Hosted PBX", 24999)),
    (1, "LONG_DISTANCE"): (Plan("Business LD", 2999), Plan("Toll-Free Plus", 4999),
                           Plan("Business Unlimited LD", 7999), Plan("Global Business", 12999)),
    (1, "WIRELESS"): (Plan("Business Unlimited", 5999), Plan("Business Fleet 10", 44999),
                      Plan("Business Pro", 8999), Plan("Push-to-Talk", 3999)),
    (1, "INTERNET"): (Plan("Business DSL 50", 7999, 50, "DSL modem ZX-2000"),
                      Plan("Business Fiber 300", 14999, 300, "Fiber ONT G-240"),
                      Plan("Business Fiber 1G", 24999, 1000, "Fiber ONT XGS-2500"),
                      Plan("Dedicated 500", 49999, 500, "Ethernet NID ETX-2")),
    (1, "VIDEO"): (Plan("Business TV", 5999), Plan("Bar & Restaurant TV", 14999),
                   Plan("Lobby TV", 3999), Plan("Sports Venue", 29999)),
}

FEATURES: dict[str, tuple[str, ...]] = {
    "LOCAL": ("CALLER_ID", "CALL_WAITING", "VOICEMAIL", "CALL_FORWARDING", "THREE_WAY_CALLING"),
    "LONG_DISTANCE": ("INTERNATIONAL_CALLING", "CALLING_CARD", "TOLL_FREE_NUMBER",
                      "FLAT_RATE_DOMESTIC", "CONFERENCE_CALLING"),
    "WIRELESS": ("UNLIMITED_TALK", "HOTSPOT", "INTERNATIONAL_ROAMING", "VISUAL_VOICEMAIL",
                 "WIFI_CALLING"),
    "INTERNET": ("STATIC_IP", "WIFI_ROUTER", "SECURITY_SUITE", "EMAIL_ACCOUNTS",
                 "PARENTAL_CONTROLS"),
    "VIDEO": ("DVR", "HD_PACKAGE", "SPORTS_PACKAGE", "PREMIUM_MOVIES", "ON_DEMAND"),
}

EQUIPMENT_PER_CATEGORY = 4
# None: the service has no customer equipment of its own.
EQUIPMENT: dict[str, tuple[str | None, ...]] = {
    "LOCAL": ("Network interface device", "Cordless handset DECT 6.0",
              "Analog terminal adapter", "Corded desk phone"),
    "LONG_DISTANCE": (None, None, None, None),
    "WIRELESS": ("Handset Pixel 8", "Handset iPhone 15", "Handset Galaxy S24",
                 "Hotspot MiFi 8800"),
    "INTERNET": (None, None, None, None),  # per plan, see PLANS
    "VIDEO": ("Set-top box STB-4K", "DVR box Genie 2", "Streaming stick", "Set-top box STB-HD"),
}

# Bundles of categories a customer buys, with relative weights, per segment.
# One-category bundles matter: the total service approach treats them apart.
RESIDENTIAL_BUNDLES: tuple[tuple[int, int], ...] = (
    (WIRELESS, 22), (LOCAL | LONG_DISTANCE, 8), (INTERNET, 8), (INTERNET | VIDEO, 10),
    (WIRELESS | INTERNET, 12), (LOCAL | LONG_DISTANCE | INTERNET, 7), (LOCAL, 5),
    (LOCAL | WIRELESS, 4), (WIRELESS | INTERNET | VIDEO, 8),
    (LOCAL | LONG_DISTANCE | INTERNET | VIDEO, 5), (LOCAL | LONG_DISTANCE | WIRELESS | INTERNET, 4),
    (LONG_DISTANCE, 1), (WIRELESS | VIDEO, 2), (LOCAL | INTERNET, 4),
)
BUSINESS_BUNDLES: tuple[tuple[int, int], ...] = (
    (LOCAL | LONG_DISTANCE, 18), (LOCAL | LONG_DISTANCE | INTERNET, 22), (INTERNET, 10),
    (WIRELESS, 10), (LOCAL | LONG_DISTANCE | WIRELESS | INTERNET, 12), (LOCAL | INTERNET, 8),
    (WIRELESS | INTERNET, 10), (LOCAL | LONG_DISTANCE | INTERNET | VIDEO, 5), (LOCAL, 5),
)


def expand(weighted: tuple[tuple[int, int], ...] | list[tuple[int, int]]) -> list[int]:
    """Repeat each value by its weight: picking a uniform index gives the weighted mix."""
    return [value for value, weight in weighted for _ in range(weight)]


def feature_sets(category: str) -> list[str]:
    """All 2**n subsets of a category's features, as '|'-joined strings indexed by bit mask."""
    names = FEATURES[category]
    return ["|".join(f for bit, f in enumerate(names) if mask >> bit & 1) for mask in range(1 << len(names))]


def slug(text: str) -> str:
    """Lower-case letters only: the local part of a demo e-mail address."""
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z")


def _check() -> None:
    # The SQL indexes these lists arithmetically; a short list would silently
    # pick from the next slot.
    assert all(len(p) == PLANS_PER_SLOT for p in PLANS.values())
    names = [plan.name for plans in PLANS.values() for plan in plans]
    assert len(set(names)) == len(names), "plans are joined by name"
    assert all(len(e) == EQUIPMENT_PER_CATEGORY for e in EQUIPMENT.values())
    assert all(len(f) == 5 for f in FEATURES.values())
    for bundles in (RESIDENTIAL_BUNDLES, BUSINESS_BUNDLES):
        assert all(1 <= bin(mask).count("1") <= 4 for mask, _ in bundles)


_check()
