"""Which OpenStreetMap tags a query means: the table behind the ``osm`` lead source.

Each ``Category`` names an industry and the ``key=value`` tags businesses of that industry carry
in OSM (see https://wiki.openstreetmap.org/wiki/Map_features). A query selects every category
one of its words (or two-word phrases) names, in any case, accent or plural; a query that names
none is searched by business name instead (``name_pattern``). The table is documented for users
in the README section "Providers": keep the two in step."""

import itertools
import re
from dataclasses import dataclass

from leadgen.leads.normalise import fold
from leadgen.providers.catalogue import QUERY_STOPWORDS

Tag = tuple[str, str]


@dataclass(frozen=True)
class Category:
    """An industry and the OSM tags its businesses carry."""

    industry: str
    tags: tuple[Tag, ...]


_DENTIST = Category("Dentist", (("amenity", "dentist"), ("healthcare", "dentist")))
_CAFE = Category("Coffee shop", (("amenity", "cafe"), ("shop", "coffee")))
_RESTAURANT = Category("Restaurant", (("amenity", "restaurant"),))
_PLUMBER = Category("Plumber", (("craft", "plumber"),))
_ELECTRICIAN = Category("Electrician", (("craft", "electrician"),))
_ROOFER = Category("Roofer", (("craft", "roofer"),))
_LAWYER = Category("Lawyer", (("office", "lawyer"),))
_ACCOUNTANT = Category("Accountant", (("office", "accountant"), ("office", "tax_advisor")))
_ESTATE_AGENT = Category("Real estate agent", (("office", "estate_agent"),))
_GYM = Category("Gym", (("leisure", "fitness_centre"),))
_HAIRDRESSER = Category("Hair salon", (("shop", "hairdresser"),))
_BEAUTY = Category("Beauty salon", (("shop", "beauty"),))
_BAKERY = Category("Bakery", (("shop", "bakery"),))
_FLORIST = Category("Florist", (("shop", "florist"),))
_CAR_REPAIR = Category("Car repair", (("shop", "car_repair"),))
_VET = Category("Veterinarian", (("amenity", "veterinary"),))
_DOCTOR = Category("Doctor", (("amenity", "doctors"), ("healthcare", "doctor")))
_PHARMACY = Category("Pharmacy", (("amenity", "pharmacy"),))
_BAR = Category("Bar", (("amenity", "bar"), ("amenity", "pub")))
_HOTEL = Category("Hotel", (("tourism", "hotel"), ("tourism", "guest_house")))
_OPTICIAN = Category("Optician", (("shop", "optician"),))

# Query word (singular, lower case, no accents) -> category. Two-word keys are phrases.
CATEGORIES: dict[str, Category] = {
    "dentist": _DENTIST, "dental": _DENTIST, "orthodontist": _DENTIST,
    "coffee": _CAFE, "cafe": _CAFE, "espresso": _CAFE,
    "restaurant": _RESTAURANT, "bistro": _RESTAURANT, "diner": _RESTAURANT,
    "plumber": _PLUMBER, "plumbing": _PLUMBER,
    "electrician": _ELECTRICIAN, "roofer": _ROOFER, "roofing": _ROOFER,
    "lawyer": _LAWYER, "attorney": _LAWYER, "solicitor": _LAWYER, "law firm": _LAWYER,
    "accountant": _ACCOUNTANT, "accounting": _ACCOUNTANT, "bookkeeper": _ACCOUNTANT,
    "cpa": _ACCOUNTANT, "tax": _ACCOUNTANT,
    "realtor": _ESTATE_AGENT, "real estate": _ESTATE_AGENT, "estate agent": _ESTATE_AGENT,
    "gym": _GYM, "fitness": _GYM,
    "hairdresser": _HAIRDRESSER, "hair": _HAIRDRESSER, "salon": _HAIRDRESSER,
    "barber": _HAIRDRESSER, "beauty": _BEAUTY, "spa": _BEAUTY,
    "bakery": _BAKERY, "florist": _FLORIST, "flower": _FLORIST,
    "mechanic": _CAR_REPAIR, "car repair": _CAR_REPAIR, "garage": _CAR_REPAIR,
    "vet": _VET, "veterinarian": _VET, "veterinary": _VET,
    "doctor": _DOCTOR, "physician": _DOCTOR, "clinic": _DOCTOR,
    "pharmacy": _PHARMACY, "chemist": _PHARMACY,
    "bar": _BAR, "pub": _BAR, "hotel": _HOTEL, "motel": _HOTEL,
    "optician": _OPTICIAN, "optometrist": _OPTICIAN,
}  # fmt: skip


def singular(word: str) -> str:
    """``word`` without a plural ending: "pharmacies" -> "pharmacy", "dentists" -> "dentist"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def query_words(query: str) -> list[str]:
    """The query's words: lower case, without accents, plural endings or stop words."""
    words = [singular(word) for word in re.findall(r"[^\W_]+", fold(query).lower())]
    return [word for word in words if word not in QUERY_STOPWORDS]


def categories_for(query: str) -> list[Category]:
    """The categories the query names, in the order it names them; empty when none."""
    words = query_words(query)
    keys = [*words, *(f"{a} {b}" for a, b in itertools.pairwise(words))]
    found = [CATEGORIES[key] for key in keys if key in CATEGORIES]
    return list(dict.fromkeys(found))


def name_pattern(query: str) -> str:
    """The text a business name must contain when the query names no category."""
    return " ".join(query_words(query)) or fold(query).strip().lower()
