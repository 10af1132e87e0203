"""Surrogates keep people apart and read true: roles, sex, titles, collisions, phone numbers."""

from __future__ import annotations

import random
import re

import pytest

from medbatch.notes.tasks.deid.surrogate_names import name_pools
from medbatch.notes.tasks.deid.surrogates import Surrogates
from medbatch.spec import PhiType

KEY = b"surrogate-test-key-0123456789"


@pytest.fixture(scope="module")
def surrogates() -> Surrogates:
    return Surrogates(KEY)


def synthetic_names(count: int, seed: int = 11) -> list[str]:
    """``count`` distinct full names drawn from the Census lists (made up: no note holds them together)."""
    pools = name_pools()
    rng = random.Random(seed)
    names: set[str] = set()
    while len(names) < count:
        names.add(f"{rng.choice(pools.first)} {rng.choice(pools.surnames)}")
    return sorted(names)


def test_two_people_rarely_share_a_surrogate(surrogates: Surrogates) -> None:
    originals = synthetic_names(10_000)
    faked = [surrogates.name(n) for n in originals]
    by_surrogate: dict[str, int] = {}
    for fake in faked:
        by_surrogate[fake] = by_surrogate.get(fake, 0) + 1
    collided = sum(1 for fake in faked if by_surrogate[fake] > 1)
    assert collided / len(originals) < 0.001, f"{collided} of {len(originals)} originals share a surrogate"
    assert not set(faked) & set(originals), "a surrogate equal to an original would leak it"


def test_a_person_keeps_one_surrogate_wherever_the_name_stands(surrogates: Surrogates) -> None:
    full = surrogates.name("Rafael Okafor")
    first, last = full.split()
    assert surrogates.name("Mr. Okafor") == f"Mr. {last}"
    assert surrogates.name("Okafor, Rafael") == f"{last}, {first}"
    assert surrogates.name("RAFAEL OKAFOR") == full.upper()


def test_first_names_keep_their_sex_and_surnames_their_role(surrogates: Surrogates) -> None:
    pools = name_pools()
    female, male, surnames = set(pools.female), set(pools.male), set(pools.surnames)
    for original in ["Margaret Holloway", "Susan Brandt", "Dorothy Kim"]:
        first, last = surrogates.name(original).split()
        assert first in female
        assert last in surnames
    for original in ["Robert Lindqvist", "Thomas Ferreira", "George Adeyemi"]:
        first, last = surrogates.name(original).split()
        assert first in male
        assert last in surnames


def test_titles_credentials_and_initials_stay_what_they_are(surrogates: Surrogates) -> None:
    assert re.fullmatch(
        r"Dr\. [A-Z][a-z]+ [A-Z]\. [A-Z][a-z]+, MD", surrogates.name("Dr. Ellen P. Marsh, MD")
    )
    assert surrogates.name("Ms. Vance RN").startswith("Ms. ")
    assert surrogates.name("Ms. Vance RN").endswith(" RN")


def test_a_name_in_any_script_gets_a_whole_surrogate(surrogates: Surrogates) -> None:
    fake = surrogates.name("Zoë Ångström")
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", fake)
    assert fake.split()[0] in set(name_pools().female)  # the listed "Zoe" is a woman's name


@pytest.mark.parametrize("kind", [PhiType.PHONE, PhiType.FAX])
def test_one_number_is_one_surrogate_whatever_its_layout(surrogates: Surrogates, kind: PhiType) -> None:
    layouts = ["(617) 555-2368", "617-555-2368", "617.555.2368", "+1 617 555 2368", "6175552368"]
    digits = {re.sub(r"\D", "", surrogates.replace(v, kind, "p"))[-10:] for v in layouts}
    assert len(digits) == 1
    assert surrogates.replace("(617) 555-2368", kind, "p")[0] == "("  # the layout is kept


def test_surrogate_numbers_are_valid_and_fictional(surrogates: Surrogates) -> None:
    for i in range(2_000):
        fake = re.sub(r"\D", "", surrogates.phone(f"617-{i % 1000:03d}-{i:04d}", "PHONE"))
        npa, exchange, line = fake[:3], fake[3:6], fake[6:]
        assert npa[0] in "23456789"
        assert npa[1] != "9"
        assert npa[1:] != "11"
        assert exchange == "555"
        assert 100 <= int(line) <= 199
