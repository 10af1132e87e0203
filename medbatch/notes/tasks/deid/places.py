"""Places and institutions: from a gazetteer, before institution words, and after verbs of moving.

- **the gazetteer** (GeoNames US places, US counties): a place name that is not a common word, in any case
  ("Pikesville", "SPOKANE"); a place of several words ("Salt Lake City", "Eau Claire") when written with
  capitals, or in lower case when one of its words is no common word;
- **institutions**: ``hospital``, ``hosp``, ``rehab``, ``memorial`` ... with up to three proper words
  before it ("brinley hosp", "Lakeview Methodist Hospital", "HARLAN HOSPIATAL"); a saint's name
  ("St. Brigid's"); hospital names without such a word from a short list ("Johns Hopkins", "Mass General");
- **moves and stays**: after "transferred to", "admitted from the", "transplant at" ..., a word in no
  vocabulary (an abbreviated or unlisted hospital: "TRANS TO KW"), or up to three capitalised words in a
  note that capitalises names ("accepted at Lantern Cross"; also after a bare "at"/"to"); hospital units
  ("to CCU") are clinical words;
- then every other mention of a place found, a name of several words as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from medbatch.notes.spans import PhiSpan
from medbatch.notes.tasks.deid.lexicons import Lexicons, PhraseIndex
from medbatch.notes.tasks.deid.names import CREDENTIALS
from medbatch.notes.tasks.deid.things import names_a_thing
from medbatch.notes.tasks.deid.tokens import Word, between
from medbatch.spec import PhiType

_INSTITUTION = re.compile(
    r"hosp\w*|medical|med|health|healthcare|rehab\w*|clinic|infirmary|nursing|hospice|sanitarium|"
    r"university|univ|college|memorial|regional|general|center|centre|ctr|va|house|home"
)
# Institution words that name one on their own ("Memorial Hospital"), where "General Hospital" does not.
_NAMING_INSTITUTION_WORDS = frozenset(["memorial", "regional", "infirmary"])
# Words that end an institution's name (with "hosp", "hospital", "hospiatal" ...). After the strong ones a
# common word still names the place ("CONCORD HOSPITAL", "BRAMBLE REGIONAL"); after the others ("CON'T
# REHAB", "the house") it must be a proper word.
_WEAK_HEADS = frozenset(["rehab", "rehabilitation", "clinic", "house"])
# Words that end an organisation's name after a proper name and what it serves: "<Name> Sleep Center",
# "<Name> Neurology Associates", "<Name> Family Practice". What it serves is skipped on the way back, so
# "the Heart Center" names no one.
_ORGANISATION_HEADS = frozenset(
    "center centre institute university college associates practice partners group".split()
)
_SERVICES = frozenset(
    """
    care senior seniors family sleep heart cancer eye eyes wound women women's children children's
    surgery surgical sports spine vascular vein kidney dialysis imaging diagnostic diagnostics infusion
    orthopedic orthopaedic cardiac neurology cardiology oncology pediatric pediatrics internal medicine
    primary urgent health healthcare medical behavioral mental dental vision hearing pain rehabilitation
    home community day adult
    """.split()
)


def _serves_only(run: Sequence[Word]) -> bool:
    """An organisation head after words of what it serves only ("Wound Care Center"): no proper name."""
    *before, head = run
    return (
        bool(before)
        and (head.low in _ORGANISATION_HEADS or bool(_INSTITUTION.fullmatch(head.low)))
        and all(w.low in _SERVICES or w.clinical or _INSTITUTION.fullmatch(w.low) for w in before)
    )


def _strong_head(low: str) -> bool:
    return (low.startswith("hosp") and low.isalpha()) or low in _NAMING_INSTITUTION_WORDS


def _head(low: str) -> bool:
    return _strong_head(low) or low in _WEAK_HEADS or low in _ORGANISATION_HEADS


_MOVES = frozenset(
    """
    transfer transferred transfered trans tx txd transferring admitted readmitted referred sent
    returned return arrived came taken brought discharged accepted screened went go going moved
    flown medflight arrival come adm enroute presented presents seen followed ed er ew transplant
    transplanted hospitalized hospitalization treated surgery admission stay placement evaluated
    """.split()
)
_TOWARD = frozenset(["to", "from", "at", "by", "into"])
_BEFORE_TARGET = _TOWARD | {"the", "transfer", "trans"}  # what may stand right before a place moved to
# Words that never name a place: function words and the generic destinations of a patient.
_NOT_PLACE = frozenset(
    """
    the a an his her their our this that home here there floor unit ward room bed rehab hospital
    hosp nursing facility snf osh er ed ew or icu ccu micu sicu csru cvicu pacu cath lab ir ct mri
    radiology dialysis hd surgery cardiology service team clinic office him her them me us it and of
    in for
    pathology anesthesia anesthesiology neurology oncology urology dermatology psychiatry pediatrics
    obstetrics gynecology orthopedics ophthalmology otolaryngology nephrology gastroenterology
    pulmonology endocrinology hematology rheumatology neurosurgery triage pharmacy laboratory lab
    emergency recovery labor delivery
    dr drs mr mrs ms miss doctor prof
    """.split()
)
_GENERIC = frozenset(
    """
    by with at per from to on for in of as into via the a an our this that their his her local
    outside community general public private state county city university medical cardiology
    oncology pediatric psychiatric rehabilitation nursing same other another previous prior new old
    """.split()
)
_SAINT = frozenset(["st", "saint", "ste"])
# What names a part of a hospital, not a hospital: capitalised words before one are the unit's name.
_UNIT_HEADS = frozenset(
    "unit units room rooms suite floor ward service team department dept lab laboratory".split()
)


def _capitalised(word: Word, cased: bool) -> bool:
    return word.text[0].isupper() if cased else True


def _phrases(
    words: Sequence[Word], index: PhraseIndex, cased: bool, any_case: bool
) -> Iterator[tuple[int, int]]:
    i = 0
    while i < len(words):
        lengths = index.get(words[i].low)
        if lengths is None:
            i += 1
            continue
        pair = (words[i].low, words[i + 1].low) if i + 1 < len(words) else None
        for n in lengths:
            if i + n > len(words) or words[i].line != words[i + n - 1].line or (n == 1 and not any_case):
                continue
            if n > 1 and pair not in index.pairs:
                continue
            group = words[i : i + n]
            if n > 1 and tuple(w.low for w in group) not in index.phrases:
                continue
            if any_case or all(_capitalised(w, cased) for w in group) or not all(w.common for w in group):
                yield i, i + n
                i += n - 1
                break
        i += 1


def _joined(text: str, left: Word, right: Word) -> bool:
    gap = between(text, left, right)
    return left.line == right.line and len(gap) <= 3 and gap.strip(" \t.-") == ""


def _institution(text: str, words: Sequence[Word], head: int, cased: bool) -> list[int]:
    """The head word and the proper words before it: "Lakeview Methodist Hosp", "brinley hosp"."""
    taken: list[int] = []
    j = head - 1
    organisation = words[head].low in _ORGANISATION_HEADS
    services = 2 if organisation else 0
    while j >= 0 and len(taken) < 3 and _joined(text, words[j], words[j + 1]):
        word = words[j]
        if services and not taken and (word.low in _SERVICES or word.clinical):
            services -= 1  # "Sleep" of "<Name> Sleep Center": part of the name, not the proper part
            j -= 1
            continue
        if organisation and taken and word.everyday and any(not words[k].everyday for k in taken):
            break  # "Call <Name> Family Practice": a sentence's first word, not the name's
        if word.low in _SAINT and taken:
            taken.append(j)
            break
        if word.low in _GENERIC or word.low in _NOT_PLACE or "'" in word.low:
            break  # "the", "general", "CON'T"
        if word.low in _NAMING_INSTITUTION_WORDS:
            taken.append(j)  # "MEMORIAL HOSPITAL", "Regional Medical Center"
            j -= 1
            continue
        if _INSTITUTION.fullmatch(word.low) and not taken:
            j -= 1  # "Tamsin Square Medical Center": the other institution words belong to it
            continue
        if cased and not (word.text[0].isupper() or not word.common):
            break
        if word.common and not (_strong_head(words[head].low) or (cased and word.text[0].isupper())):
            break  # "CONCORD HOSPITAL" but not "CON'T REHAB"
        taken.append(j)
        j -= 1
    if not taken or (organisation and all(words[k].everyday for k in taken)):
        return []  # "the Patient Education Center": an organisation's name has a proper word
    return [*taken, *range(min(taken) + 1, head + 1)]


def _saint(text: str, words: Sequence[Word], i: int, cased: bool) -> bool:
    """ "St. Brigid's", "ST BRIGID": a saint's name, not a street ("19 Kestrel St. in")."""
    if words[i].low not in _SAINT or i + 1 >= len(words) or not _joined(text, words[i], words[i + 1]):
        return False
    nxt = words[i + 1]
    if (cased and not nxt.text[0].isupper()) or nxt.low in _NOT_PLACE:
        return False
    if not cased and nxt.common and not nxt.first:
        return False  # "ST ELEVATION" in a note in capitals: a saint's name is a given name
    if i == 0 or words[i - 1].line != words[i].line or between(text, words[i - 1], words[i]).strip() != "":
        return True
    prev = words[i - 1]
    street = prev.text[0].isupper() and prev.low not in _GENERIC if cased else prev.low not in _GENERIC
    return not street and not text[prev.end - 1 : prev.end].isdigit()


def _move_target(text: str, words: Sequence[Word], i: int) -> bool:
    """Whether ``i`` is the first word after "transferred to", "admitted from the", "ED at" ..."""
    k = i - 1
    if k >= 0 and words[k].low == "the":
        k -= 1
    if k < 1 or words[k].low not in _TOWARD:
        return False
    if words[k - 1].low not in _MOVES and not (words[k].low in ("at", "to") and _title(words[i])):
        return False  # "at Lantern Cross": a capitalised name after "at" or "to" needs no verb
    gap = between(text, words[i - 1], words[i])
    return words[k - 1].line == words[i].line and not any(ch.isalnum() for ch in gap)


def _after_move(text: str, words: Sequence[Word], i: int, cased: bool) -> list[int]:
    """The place a patient moves to or from: "TRANS TO KW" (a word in no vocabulary), "accepted at Lantern
    Cross", "sent to Hollis Reed EW" (capitalised words, in a note that capitalises names)."""
    if i == 0 or words[i - 1].low not in _BEFORE_TARGET:
        return []  # most words: nothing before them that leads to a place
    word = words[i]
    if words[i - 1].low in ("transfer", "trans") and word.unknown and len(word.low) > 3:
        return [i]  # "TRANSFER ELMSWORTH 2"
    if not _move_target(text, words, i) or word.low in _NOT_PLACE or word.low in _GENERIC:
        return []
    if word.low in CREDENTIALS:
        return []  # "seen by NP ...": a clinician's title, not a hospital's abbreviation
    if cased and _title(word) and not word.clinical:
        run = [i]
        while len(run) < 3 and run[-1] + 1 < len(words):
            nxt = words[run[-1] + 1]
            if (
                not (_title(nxt) and _joined(text, words[run[-1]], nxt))
                or nxt.low in _NOT_PLACE
                or nxt.clinical
            ):
                break
            run.append(run[-1] + 1)
        after = run[-1] + 1
        if (
            after < len(words)
            and words[after].low in _UNIT_HEADS
            and _joined(text, words[run[-1]], words[after])
        ):
            return []  # "to the Recovery Room", "to Intensive Care Unit": a unit of the hospital, not one
        if _serves_only([words[k] for k in run]):
            return []  # "to the Wound Care Center": what a center serves names no one
        return run
    if "'" in word.low or (word.known and len(word.low) > 3):
        return []  # "CON'T", "returned to baseline": a word, not an abbreviated hospital
    return [i] if not word.common and len(word.low) >= 2 else []


def _title(word: Word) -> bool:
    """Capitalised, not an acronym: "Harbor", not "CCU"."""
    return word.text[0].isupper() and not word.text.isupper()


def _place_after_preposition(words: Sequence[Word], i: int, cased: bool) -> bool:
    """ "housing in Linthicum": a listed place that is also a word, capitalised after in/from/to/near."""
    word = words[i]
    if not (cased and word.place and word.common and _title(word)):
        return False
    if word.clinical or word.everyday or i == 0 or words[i - 1].low not in ("in", "from", "to", "near"):
        return False
    return words[i - 1].line == word.line


# Generic words of place names (the feature classes of a gazetteer): "<Name> Falls", "<Name> Heights".
_TOPONYM_HEADS = frozenset(
    """
    falls springs spring heights hills hill valley lake lakes creek harbor harbour beach bay point ridge
    junction crossing hollow grove village township park mills mill landing bluff bluffs glen meadows
    """.split()
)


def _toponym(text: str, words: Sequence[Word], i: int, cased: bool) -> list[int]:
    """ "came from Harrow Falls": a capitalised word and a gazetteer's generic word after in/from/to/near,
    in a note that capitalises names."""
    if not cased or i == 0 or i + 1 >= len(words) or words[i - 1].low not in ("in", "from", "to", "near"):
        return []
    word, head = words[i], words[i + 1]
    if not (_title(word) and _title(head) and head.low in _TOPONYM_HEADS and _joined(text, word, head)):
        return []
    return [] if word.clinical or word.low in _NOT_PLACE or word.low in _GENERIC else [i, i + 1]


_LONGEST_NAME = 5  # words; longer runs of found words are not one place's name


def _mentions(words: Sequence[Word], found: set[int]) -> Iterator[int]:
    """Other mentions of the places found: a proper word alone, a name of several words as a whole
    ("Hollis Reed hosp." ... "sent to Hollis Reed EW")."""
    singles = {
        words[i].low
        for i in found
        if not words[i].common and (len(words[i].low) >= 3 or words[i].text.isupper())
    }
    runs: set[tuple[str, ...]] = set()
    run: list[int] = []
    for i in [*sorted(found), -2]:
        if run and i != run[-1] + 1:
            if 1 < len(run) <= _LONGEST_NAME:
                runs.add(tuple(words[j].low for j in run if not _INSTITUTION.fullmatch(words[j].low)))
            run = []
        run.append(i)
    runs.discard(())
    for i, word in enumerate(words):
        if word.low in singles and (len(word.low) >= 3 or word.text.isupper()):  # "KW", not "kw" of a word
            yield i
        for phrase in runs:
            if phrase[0] == word.low and tuple(w.low for w in words[i : i + len(phrase)]) == phrase:
                yield from range(i, i + len(phrase))


def find_places(text: str, words: Sequence[Word], lex: Lexicons, cased: bool) -> Iterator[PhiSpan]:
    """LOCATION spans in ``text``, given its ``words``."""
    found: set[int] = set()
    for start, end in _phrases(words, lex.place_phrases, cased, any_case=False):
        found.update(range(start, end))
    for start, end in _phrases(words, lex.institutions, cased, any_case=True):
        while (
            end < len(words)
            and words[end].line == words[start].line
            and _INSTITUTION.fullmatch(words[end].low)
        ):
            end += 1  # "Quiet Meadow Memorial", "Johns Hopkins Hospital"
        found.update(range(start, end))
    for i, word in enumerate(words):
        if word.place and not word.common and not word.everyday and len(word.low) >= 4:
            found.add(i)
        elif _head(word.low):
            found.update(_institution(text, words, i, cased))
        elif _place_after_preposition(words, i, cased):
            found.add(i)
        elif toponym := _toponym(text, words, i, cased):
            found.update(toponym)
        elif _saint(text, words, i, cased):
            found.update((i, i + 1))
        else:
            found.update(_after_move(text, words, i, cased))
    # Other mentions of a place found once ("to Elmsworth 2" ... "per Elmsworth 3 RN").
    found.update(list(_mentions(words, found)))
    # A word the note uses for an instrument or a material ("<Word> scissors") is no place anywhere in it.
    things = {words[i].low for i in found if names_a_thing(text, words, i)}
    found = {i for i in found if words[i].low not in things}
    # One span per place: words joined by spaces, periods or hyphens ("St. Brigid's", "Harlow-Methodist").
    run: list[int] = []
    for i in [*sorted(found), -1]:
        if run and (i != run[-1] + 1 or not _joined(text, words[run[-1]], words[i])):
            yield PhiSpan(words[run[0]].start, words[run[-1]].end, PhiType.LOCATION)
            run = []
        run.append(i)
