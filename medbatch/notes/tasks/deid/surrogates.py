"""Keyed surrogates: realistic fake values, the same fake for the same original throughout a corpus.

Every choice is an HMAC-SHA256 of the original under a secret key, so surrogates are consistent across
shards, replicas and reruns, and cannot be inverted without the key. Dates are shifted by a per-patient
offset derived the same way.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources

import yaml

from medbatch.notes.tasks.deid.dates import shift_date_text
from medbatch.notes.tasks.deid.key import check_key
from medbatch.notes.tasks.deid.surrogate_names import name_pools, surrogate_name
from medbatch.spec import PhiType


@cache
def _lists() -> dict[str, list[str]]:
    text = resources.files("medbatch.notes.tasks.deid").joinpath("data/surrogates.yaml").read_text("utf-8")
    loaded: dict[str, list[str]] = yaml.safe_load(text)
    return loaded


_PLACE_KIND = re.compile(
    r"\s+(?:County|Parish|Borough|Hospital|Medical\s+Center|Health\s+Center|Clinic|Infirmary|Health\s+System|"
    r"Cancer\s+Center|Nursing\s+Home|Rehabilitation\s+Center)$"
)


class Surrogates:
    """Surrogate values under one secret key.

    Args:
        key: the corpus secret (at least 16 bytes). Keep it to reproduce or extend a corpus consistently.
        date_shift_max_days: dates move by 1..N days, earlier or later, per patient.
    """

    def __init__(self, key: bytes, date_shift_max_days: int = 365) -> None:
        self._key = check_key(key)
        self._max_days = date_shift_max_days
        self._by_type: dict[PhiType, Callable[[str], str]] = {
            PhiType.NAME: self.name,
            PhiType.EMAIL: self.email,
            PhiType.URL: self.url,
            PhiType.IP: self.ip,
            PhiType.ADDRESS: self.address,
            PhiType.LOCATION: self.city,
            PhiType.AGE: lambda _: "90+",
            PhiType.PHONE: lambda v: self.phone(v, "PHONE"),
            PhiType.FAX: lambda v: self.phone(v, "FAX"),
            PhiType.SSN: lambda v: self.digits(v, "SSN", prefix="9"),
        }

    def _int(self, kind: str, value: str) -> int:
        digest = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def _pick(self, kind: str, value: str, choices: Sequence[str]) -> str:
        """A keyed choice that is never ``value`` itself (a surrogate equal to the original would leak it)."""
        index = self._int(kind, value) % len(choices)
        if choices[index].lower() == value.lower():
            index = (index + 1) % len(choices)
        return choices[index]

    def date_offset(self, patient: str) -> int:
        """Days by which every date of ``patient`` moves (never 0)."""
        n = self._int("date-offset", patient)
        days = n % self._max_days + 1
        return days if (n >> 32) & 1 else -days

    def date(self, value: str, patient: str, year: int | None = None) -> str | None:
        """``value`` shifted by the patient's offset in its own format (a date without a year read in
        ``year``); None if it is not a valid date."""
        return shift_date_text(value, self.date_offset(patient), year)

    def name(self, value: str) -> str:
        """Token by token, keyed by the token alone, from the pool of its role and sex
        (``surrogate_names``); titles and credentials kept."""
        return surrogate_name(value, self._pick)

    def email(self, value: str) -> str:
        """A fictional address under example.org."""
        user = self._pick("email", value.lower(), name_pools().surnames).lower()
        return f"{user}{self._int('email-n', value.lower()) % 100}@example.org"

    def url(self, value: str) -> str:
        """A fictional URL under example.org."""
        return f"https://example.org/{self._int('url', value) % 16**8:08x}"

    def ip(self, value: str) -> str:
        """An address from the documentation ranges (TEST-NET-1, 2001:db8::/32)."""
        n = self._int("ip", value)
        return f"2001:db8::{n % 65536:x}" if ":" in value else f"192.0.2.{n % 254 + 1}"

    def address(self, value: str) -> str:
        """A fictional street address."""
        lists = _lists()
        number = self._int("address-n", value) % 9900 + 100
        street = self._pick("street", value, lists["streets"])
        suffix = self._pick("suffix", value, lists["street_suffixes"])
        return f"{number} {street} {suffix}"

    def city(self, value: str) -> str:
        """A fictional place name; a trailing kind of place ("County", "Medical Center") is kept."""
        found = _PLACE_KIND.search(value)
        name, kind = (value[: found.start()], found.group()) if found else (value, "")
        return self._pick("city", name.lower(), _lists()["cities"]) + kind

    def phone(self, value: str, kind: str) -> str:
        """A fictional number in the original's layout.

        Keyed by the number's last ten digits alone, so one number written two ways ("(555) 201-0147",
        "555.201.0147", as a phone or as a fax) gets one surrogate; the area code is a valid one (2-9, then
        0-8, then any digit; never N11) and the line is in 555-0100..0199, the range kept for fiction.
        """
        del kind  # a fax and a phone with the same digits are the same number
        digits = re.sub(r"\D", "", value)
        n = self._int("phone", digits[-10:])
        npa = f"{2 + n % 8}{n // 8 % 9}{n // 72 % 10}"
        if npa[1:] == "11":
            npa = npa[0] + "10"
        fake = f"{npa}5550{100 + n // 720 % 100}"
        positions = [i for i, ch in enumerate(value) if ch.isdigit()]
        chars = list(value)
        for pos, digit in zip(reversed(positions), reversed(fake), strict=False):
            chars[pos] = digit
        return "".join(chars)

    def digits(self, value: str, kind: str, prefix: str = "") -> str:
        """``value`` with every digit and letter replaced (keyed), punctuation and shape kept.

        ``prefix`` fixes the leading digits: 9 for SSNs (never issued as SSNs).
        """
        stream = hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha512).digest()
        out: list[str] = []
        fixed = list(prefix)
        for i, ch in enumerate(value):
            byte = stream[i % len(stream)]
            if ch.isdigit():
                out.append(fixed.pop(0) if fixed else str(byte % 10))
            elif ch.isalpha() and ch.isascii():
                letter = chr(ord("A") + byte % 26)
                out.append(letter if ch.isupper() else letter.lower())
            else:
                out.append(ch)
        return "".join(out)

    def replace(self, value: str, phi_type: PhiType, patient: str, year: int | None = None) -> str:
        """The surrogate for ``value`` of ``phi_type``; ``patient`` keys the date shift, ``year`` (the
        note's) places a date written without one."""
        if phi_type == PhiType.DATE:
            shifted = self.date(value, patient, year)
            return shifted if shifted is not None else "[DATE]"
        make = self._by_type.get(phi_type)
        if make is not None:
            return make(value)
        # MRN, ACCOUNT, HEALTH_PLAN, LICENSE, VEHICLE, DEVICE, ID, ZIP: same shape, other characters.
        return self.digits(value, phi_type)
