"""The data the offline providers build businesses from: trades, places and phone styles.

A ``Trade`` gives the name parts and keywords of one industry, found from the words of a query;
a ``Place`` gives the area code, country and neighbouring towns of a requested location. Both have
a fallback, so any query and any location produce plausible leads. Phone numbers stay inside the
ranges reserved for fiction (US/CA 555-01xx, Ofcom drama numbers, ACMA 5550 xxxx)."""

import random
from dataclasses import dataclass

from leadgen.leads.normalise import fold

# Every trade also builds names from these, so each one has over 200 distinct businesses.
SURNAMES = (
    "Anderson", "Patel", "Nguyen", "Garcia", "Murphy", "Kowalski", "Okafor", "Schmidt",
    "Rossi", "Kim", "Johansson", "O'Brien", "Dubois", "Haddad", "Moreau", "Tanaka",
    "Fischer", "Castillo", "McAllister", "Novak",
)  # fmt: skip

GENERIC_HEADS = (
    "Summit", "Northside", "Evergreen", "Premier", "Blue Ridge", "Cornerstone", "Lakeview",
    "Pioneer", "Hometown", "Keystone", "Silver Oak", "Main Street", "Riverbend", "Golden Gate",
    "Red Maple", "Harbor Light",
)  # fmt: skip

# Words a query may contain that say nothing about the trade.
QUERY_STOPWORDS = frozenset(
    ["a", "an", "and", "the", "best", "top", "cheap", "good", "local", "near", "me", "in", "at",
     "for", "of", "my", "open", "now", "around"]
)  # fmt: skip


@dataclass(frozen=True)
class Trade:
    """An industry: the query words that select it and the parts its business names use.

    No tail may equal another tail plus a legal suffix: the two would share a dedupe key."""

    industry: str
    triggers: tuple[str, ...]
    heads: tuple[str, ...]
    tails: tuple[str, ...]
    suffixes: tuple[str, ...]
    keywords: tuple[str, ...]


TRADES = (
    Trade(
        "Dentist",
        ("dentist", "dentists", "dental", "dentistry", "orthodontist", "teeth"),
        ("Bright Smile", "Gentle Care", "Parkside", "Riverbend", "Pearl", "Summit", "Evergreen",
         "Lakeview", "Sunrise", "Cornerstone", "Maple Leaf", "Harbor", "Oak Hill", "Blue Sky",
         "Willow Creek", "Tooth Fairy"),
        ("Dental", "Dentistry", "Dental Care", "Dental Group", "Family Dentistry", "Dental Studio"),
        ("", "", "", "DDS", "PLLC", "LLC"),
        ("dentist", "teeth cleaning", "dental implants", "orthodontics", "teeth whitening"),
    ),
    Trade(
        "Plumber",
        ("plumber", "plumbers", "plumbing", "drain", "drains", "pipes"),
        ("Rapid Flow", "Blue Wave", "Ace", "Reliable", "True Line", "Copper Pipe", "Northside",
         "Anytime", "Clearwater", "Keystone", "Liberty", "Pioneer", "Patriot", "Silver Tap",
         "Hometown", "Precision"),
        ("Plumbing", "Plumbing & Heating", "Plumbing Services", "Drain & Sewer", "Rooter",
         "Plumbing & Drain"),
        ("", "", "", "LLC", "Inc."),
        ("plumber", "drain cleaning", "water heater repair", "leak detection",
         "emergency plumbing"),
    ),
    Trade(
        "Law Firm",
        ("lawyer", "lawyers", "attorney", "attorneys", "law", "legal", "solicitor", "solicitors"),
        ("Harper & Cole", "Whitman", "Reyes & Park", "Lindqvist", "Sterling", "Blackwood",
         "Morgan & Hale", "Ashford", "Kensington", "Redstone", "Carver & Sloane", "Bishop",
         "Fairbanks", "Holloway", "Prescott", "Vance & Ortiz"),
        ("Law", "Law Group", "Law Firm", "Legal", "Attorneys at Law", "Injury Lawyers"),
        ("", "", "", "PLLC", "LLP", "PC"),
        ("lawyer", "attorney", "personal injury", "family law", "estate planning", "consultation"),
    ),
    Trade(
        "Coffee Shop",
        ("coffee", "cafe", "cafes", "espresso", "coffeehouse", "roastery", "roaster", "barista"),
        ("Daily Grind", "Bean There", "Morning Ritual", "Copper Kettle", "Third Wave",
         "Golden Crema", "Little Owl", "Black Cat", "Sidewalk", "Common Ground", "Red Door",
         "Driftwood", "Honeycomb", "Wildflower", "Half Moon", "Brick Lane"),
        ("Coffee", "Café", "Coffee House", "Coffee Roasters", "Espresso Bar", "Coffee Bar"),
        ("", "", "", "", "LLC"),
        ("coffee", "espresso", "specialty coffee", "pastries", "cold brew", "cafe"),
    ),
    Trade(
        "Restaurant",
        ("restaurant", "restaurants", "dining", "bistro", "diner", "eatery", "food", "dinner"),
        ("Olive & Vine", "Rustic Table", "Saffron", "Blue Plate", "Fig Tree", "Harvest", "Ember",
         "Salt & Pepper", "Copper Pot", "Little Italy", "Lotus Garden", "Mesa", "Juniper",
         "Old Mill", "Riverside", "Tavola"),
        ("Kitchen", "Bistro", "Grill", "Restaurant", "Eatery", "Trattoria"),
        ("", "", "", "", "LLC"),
        ("restaurant", "dinner", "lunch", "reservations", "takeout", "private dining"),
    ),
    Trade(
        "Fitness Center",
        ("gym", "gyms", "fitness", "crossfit", "workout", "trainer", "pilates", "yoga"),
        ("Iron Forge", "Peak Performance", "Core", "Anytime", "Titan", "Elevate", "Pulse",
         "Momentum", "Apex", "Victory", "Ironside", "Vital", "Kinetic", "Stronghold", "Fuel",
         "Summit"),
        ("Fitness", "Gym", "Athletic Club", "Strength & Conditioning", "Fitness Studio",
         "Training Center"),
        ("", "", "", "LLC", "Inc."),
        ("gym", "fitness", "personal training", "group classes", "weightlifting", "membership"),
    ),
    Trade(
        "Hair Salon",
        ("salon", "salons", "hair", "hairdresser", "barber", "barbershop", "beauty", "stylist"),
        ("Velvet", "Bella", "Mane Street", "Shear Bliss", "Glow", "Luxe", "Studio Nine",
         "Silk & Stone", "Rose Gold", "Blush", "Azure", "Mirror Mirror", "Crown", "Ivy",
         "Serenity", "Lumière"),
        ("Salon", "Hair Studio", "Salon & Spa", "Beauty Bar", "Hair Lounge", "Hair Design"),
        ("", "", "", "LLC"),
        ("hair salon", "haircut", "balayage", "hair color", "blowout", "stylist"),
    ),
    Trade(
        "Accounting Firm",
        ("accountant", "accountants", "accounting", "cpa", "bookkeeping", "bookkeeper", "tax"),
        ("Ledger", "Clearview", "Bennett & Shaw", "Northstar", "Fairway", "Keystone", "Sterling",
         "Beacon", "Milestone", "Granite", "Whitfield", "Balance Point", "Oakmont", "Pinnacle",
         "True North", "Lindgren"),
        ("Accounting", "CPAs", "Tax & Accounting", "Bookkeeping", "Financial Services",
         "Tax Advisors"),
        ("", "", "", "CPA", "LLP", "PLLC"),
        ("accountant", "tax preparation", "bookkeeping", "payroll", "small business accounting"),
    ),
    Trade(
        "Roofing Contractor",
        ("roofer", "roofers", "roofing", "roof", "roofs", "gutters"),
        ("Top Notch", "Skyline", "Heritage", "Ridgeline", "Storm Guard", "Eagle", "Shield",
         "Crown", "Granite State", "Redline", "Overhead", "Highpoint", "All Weather", "Cedar",
         "Trusted", "Summit"),
        ("Roofing", "Roofing & Gutters", "Roofing Experts", "Roof Systems", "Exteriors",
         "Roofing Contractors"),
        ("", "", "", "LLC", "Inc."),
        ("roofer", "roof repair", "roof replacement", "storm damage", "gutters", "free estimate"),
    ),
    Trade(
        "Real Estate Agency",
        ("realtor", "realtors", "realty", "estate", "property", "properties"),
        ("Hearth & Home", "Cornerstone", "Landmark", "Open Door", "Blue Door", "Harbor",
         "Evergreen", "Keystone", "Homestead", "Compass Point", "Magnolia", "Village",
         "Crescent", "Oakwood", "Main Street", "Bluebird"),
        ("Realty", "Real Estate", "Properties", "Homes", "Realty Group", "Real Estate Partners"),
        ("", "", "", "LLC", "Inc."),
        ("realtor", "homes for sale", "listing agent", "buyer's agent", "home valuation"),
    ),
)  # fmt: skip


def trade_for(query: str) -> Trade:
    """The trade a query asks for; a generic trade named after the query when none matches."""
    words = [w for w in fold(query).lower().replace("-", " ").split() if w]
    for trade in TRADES:
        if any(w in trade.triggers for w in words):
            return trade
    topic_words = [w for w in query.split() if fold(w).lower() not in QUERY_STOPWORDS][:3]
    topic = " ".join(topic_words or query.split()[:3]).strip().lower() or "local business"
    title = topic.title()
    return Trade(
        industry=title,
        triggers=(),
        heads=GENERIC_HEADS,
        tails=(title, f"{title} Services", f"{title} Group", f"{title} Solutions",
               f"{title} Pros", f"{title} Experts"),
        suffixes=("", "", "", "LLC", "Inc."),
        keywords=(topic, f"{topic} near me", f"local {topic}", f"{topic} services"),
    )  # fmt: skip


@dataclass(frozen=True)
class Place:
    """A city: how its phone numbers look and which towns around it a search also returns."""

    city: str
    region: str | None
    country: str  # ISO-like: US, CA, UK, DE, FR, AU
    area_code: str
    neighbours: tuple[str, ...]

    @property
    def label(self) -> str:
        """The place as a listing shows it: ``City, Region`` or ``City``."""
        return f"{self.city}, {self.region}" if self.region else self.city


PLACES = {
    "austin": Place("Austin", "TX", "US", "512", ("Round Rock, TX", "Cedar Park, TX",
                                                  "Pflugerville, TX")),
    "portland": Place("Portland", "OR", "US", "503", ("Beaverton, OR", "Gresham, OR",
                                                      "Vancouver, WA")),
    "chicago": Place("Chicago", "IL", "US", "312", ("Evanston, IL", "Oak Park, IL",
                                                    "Naperville, IL")),
    "new york": Place("New York", "NY", "US", "212", ("Brooklyn, NY", "Jersey City, NJ",
                                                      "Yonkers, NY")),
    "denver": Place("Denver", "CO", "US", "303", ("Aurora, CO", "Lakewood, CO", "Boulder, CO")),
    "seattle": Place("Seattle", "WA", "US", "206", ("Bellevue, WA", "Tacoma, WA",
                                                    "Redmond, WA")),
    "toronto": Place("Toronto", "ON", "CA", "416", ("Mississauga, ON", "Brampton, ON",
                                                    "Markham, ON")),
    "montreal": Place("Montréal", "QC", "CA", "514", ("Laval, QC", "Longueuil, QC",
                                                      "Brossard, QC")),
    "london": Place("London", None, "UK", "20", ("Croydon", "Watford", "Kingston upon Thames")),
    "manchester": Place("Manchester", None, "UK", "161", ("Salford", "Stockport", "Oldham")),
    "berlin": Place("Berlin", None, "DE", "30", ("Potsdam", "Spandau", "Oranienburg")),
    "munich": Place("München", None, "DE", "89", ("Garching", "Freising", "Dachau")),
    "paris": Place("Paris", None, "FR", "1", ("Boulogne-Billancourt", "Saint-Denis",
                                              "Versailles")),
    "sydney": Place("Sydney", "NSW", "AU", "2", ("Parramatta, NSW", "Manly, NSW",
                                                 "Bondi, NSW")),
}  # fmt: skip

_ALIASES = {"nyc": "new york", "muenchen": "munich", "munchen": "munich"}
_COUNTRY_WORDS = {
    "uk": "UK", "united kingdom": "UK", "england": "UK", "scotland": "UK", "wales": "UK",
    "germany": "DE", "deutschland": "DE", "de": "DE", "france": "FR", "fr": "FR",
    "australia": "AU", "nsw": "AU", "vic": "AU", "qld": "AU", "canada": "CA", "on": "CA",
    "qc": "CA", "bc": "CA", "ab": "CA",
}  # fmt: skip
# Towns and area codes for a city the table does not know, by country.
_FALLBACK_TOWNS = {
    "US": ("Fairview", "Riverside", "Georgetown"),
    "CA": ("Oakville", "Richmond Hill", "Kingston"),
    "UK": ("Ashford", "Newport", "Richmond"),
    "DE": ("Neustadt", "Neukirchen", "Waldkirch"),
    "FR": ("Villeneuve", "Montreuil", "Saint-Martin"),
    "AU": ("Springwood", "Richmond", "Kingston"),
}
_FALLBACK_AREA = {"UK": "1632", "DE": "69", "FR": "1", "AU": "2"}


def place_for(location: str) -> Place:
    """The place of a requested location; an invented one in the right country when unknown."""
    parts = [p.strip() for p in location.split(",")]
    city_key = " ".join(fold(parts[0]).lower().split())
    city_key = _ALIASES.get(city_key, city_key)
    if city_key in PLACES:
        return PLACES[city_key]
    region = parts[1] if len(parts) > 1 and parts[1] else None
    country = _COUNTRY_WORDS.get(fold(parts[-1]).lower(), "US") if len(parts) > 1 else "US"
    # An area code that depends only on the city, so the same location always gets the same one.
    area = _FALLBACK_AREA.get(country) or str(200 + sum(map(ord, city_key)) * 37 % 700)
    suffix = f", {region}" if region else ""
    neighbours = tuple(f"{town}{suffix}" for town in _FALLBACK_TOWNS[country])
    return Place(parts[0] or "Springfield", region, country, area, neighbours)


def phone_for(place: Place, rng: random.Random) -> str:
    """A fictional phone number written the way listings in ``place`` write them."""
    style = rng.random()
    if place.country in ("US", "CA"):
        line = f"01{rng.randrange(100):02d}"
        if style < 0.6:
            return f"({place.area_code}) 555-{line}"
        return (
            f"{place.area_code}-555-{line}" if style < 0.85 else f"+1 {place.area_code} 555 {line}"
        )
    if place.country == "UK":
        # Ofcom drama ranges: 020 7946 0xxx (London), 0161 496 0xxx, else 01632 960xxx.
        ranges = {"20": ("20", "7946 0"), "161": ("161", "496 0")}
        code, stem = ranges.get(place.area_code, ("1632", "960"))
        digits = f"{stem}{rng.randrange(1000):03d}"
        return f"0{code} {digits}" if style < 0.6 else f"+44 {code} {digits}"
    if place.country == "AU":
        digits = f"5550 {rng.randrange(10000):04d}"
        return (
            f"(0{place.area_code}) {digits}" if style < 0.6 else f"+61 {place.area_code} {digits}"
        )
    if place.country == "FR":
        pairs = " ".join(f"{rng.randrange(100):02d}" for _ in range(4))
        return f"0{place.area_code} {pairs}" if style < 0.6 else f"+33 {place.area_code} {pairs}"
    digits = f"{rng.randrange(10**6, 10**7)}"  # DE
    return f"0{place.area_code} {digits}" if style < 0.6 else f"+49 {place.area_code} {digits}"


TLDS = {"US": ".com", "CA": ".ca", "UK": ".co.uk", "DE": ".de", "FR": ".fr", "AU": ".com.au"}
