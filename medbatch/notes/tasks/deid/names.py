"""Names of people: from the Census name lists, from cues around a word, and from signatures.

Three kinds of evidence, each enough on its own:
- **the lists**: a word that is a first name or surname (US Census) and is not an English, clinical or
  drug word ("Kowalski", "kestley"). A listed word that is also a common word ("Mark", "Hope", "Foley")
  needs a cue; so does an eponym ("Parkinson disease", "Foley catheter"): the word after it says so;
- **a cue**: a title (``Dr``, ``Mrs``), a role (``Attending:``, ``PCP:``, ``cc:``, ``RN``), a relative
  (``husband John``, ``daughter, Mary``), in any case, before a word that is a listed name or no common
  word at all; a signature line ending in a credential (``T. Wrenfield, RRT``, ``Odalys P. Marchetti, M.D.``);
- **the note itself**: once a word is a name, its other mentions in the note are too, and the initials
  and unknown words beside a name belong to it (``Q. VARGO``, ``Rich Dellacroce``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Sequence

from medbatch.notes.spans import PhiSpan, merge_phi
from medbatch.notes.tasks.deid.things import EPONYM_NEXT, names_a_thing
from medbatch.notes.tasks.deid.tokens import Word, between
from medbatch.spec import PhiType

TITLES = frozenset(["dr", "drs", "doctor", "mr", "mrs", "ms", "miss", "mister", "prof", "professor", "md"])
_HONORIFICS = frozenset(["mr", "mrs", "ms", "miss"])
# Words after which a name stands in notes: relatives and roles, singular and plural.
PEOPLE = frozenset(
    """
    husband wife spouse son sons daughter daughters brother brothers sister sisters mother father
    mom dad parent parents niece nephew aunt uncle cousin grandson granddaughter grandmother
    grandfather grandchild grandchildren stepson stepdaughter friend friends fiance fiancee
    boyfriend girlfriend partner guardian neighbor neighbour caregiver caretaker proxy hcp attending
    resident fellow intern pcp physician surgeon provider cardiologist oncologist nephrologist
    neurologist psychiatrist nurse caseworker chaplain interpreter contact manager worker sw
    therapist dietician dietitian pharmacist dtr grandaughter granddtr staff coordinator
    """.split()
)
# "talked with Irma", "reported to D. Voss", "contacts ODETTE RAE ...": a person follows.
_TALK = frozenset(
    """
    talked talk spoke spoken speak discussed discuss met meeting reported report called contacted
    contacts contact updated notified paged consult consulted
    """.split()
)
# "walt called", "Bob visited": a first name before a verb of contact.
_CONTACT_NEXT = frozenset(
    ["called", "visited", "phoned", "spoke", "calls", "visits", "came", "updated", "notified", "informed"]
)
# Credentials that end a signature ("Ines Calloway, R.N.") or follow a name ("Dale Okafor NP").
CREDENTIALS = frozenset(
    """
    md do rn rrt np pa pac lpn cna licsw lcsw msw sw phd pharmd rph rd ot slp crnp aprn facc facp
    mbbs dds dmd
    """.split()
)
# "a <Word>", "two straight <Word>s", "another <Word>", "prepped with <Word>": an article, a count or a
# verb of surgical work with its material before a capitalised word makes it a thing; people in notes
# are not "a <Surname>" (a family is: "the <Surname> family").
_DETERMINER_BEFORE = re.compile(
    r"(?i:\b(?:a|an|the|another|two|three|four|second|third|using|utilizing|via|(?:prepped|prepared|cleansed|"
    r"scrubbed|painted|irrigated|dressed|packed|closed|sutured|infiltrated|injected|flushed|coated)[ \t]+with)"
    r"|(?<![\d./:#-])\d{1,3})[ \t]+"
    r"(?P<between>(?:[a-z]+[ \t]+){0,2})$"
)
_ARTICLES = frozenset("a an the another".split())
_HOUSEHOLD = frozenset("family families household residence home".split())
# Credentials that are also words or abbreviations of something else ("do", "PA pressure", "pt"): only at
# the end of a line.
_AMBIGUOUS_CREDENTIALS = frozenset("do pa rd sw ot rt ma".split())
_INITIAL_BEFORE = re.compile(r"(?<![A-Za-z])[a-z]\. ?$")
_CREDENTIAL_INITIALS = re.compile(r"(?:M\.D|R\.N|D\.O|N\.P|P\.A)\.")
_CUES = TITLES | PEOPLE | CREDENTIALS | _TALK | {"with", "to"}
_AFTER_CUES = _CONTACT_NEXT | {"family"}
# Capitalised function words: never part of a name.
_STOP = frozenset(
    """
    a an and the of in on at to for from with by or is was he she it his her their they we i pt per
    not no yes will has had have been be as this that these who which o s p
    """.split()
)


_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")


def note_case(text: str) -> tuple[bool, bool]:
    """``(cased, lower)``: whether a capital letter means something in the note (it is not written all in
    capitals), and whether it is written (almost) all in lower case, names too ("dr kestley")."""
    upper = len(_UPPER.findall(text))
    letters = upper + len(_LOWER.findall(text))
    return upper < 0.6 * letters, upper < 0.03 * letters


def _title_case(word: Word) -> bool:
    """Capitalised, not all in capitals."""
    return word.text[0].isupper() and not word.text.isupper()


def _relative(low: str) -> bool:
    """A relative or a role, alone or in a hyphenated word ("son-in-law", "COPING-SISTER")."""
    return any(part in PEOPLE for part in low.split("-"))


def _proper(word: Word) -> bool:
    """A word that can be part of a name without a cue: a listed name that is no common word, or a word
    in no vocabulary at all."""
    listed = word.name and not word.common and not word.everyday  # "HAS" is a surname too
    return word.low not in _STOP and word.low not in CREDENTIALS and (listed or word.unknown)


def _joined(text: str, left: Word, right: Word) -> bool:
    """Two words on one line separated by a space, a period (initials) or a comma at most."""
    gap = between(text, left, right)
    return left.line == right.line and len(gap) <= 3 and gap.strip(" \t.,") == ""


def _by_lists(text: str, words: Sequence[Word], i: int, cased: bool, lower: bool) -> bool:
    """A listed name that is no word: in a cased note, written with a capital and not an acronym; in a
    note all in one case, not among frequent English words either (``KESTLEY`` needs a cue there)."""
    word = words[i]
    if not word.name or word.common or word.place or len(word.low) < 3:
        return False
    if cased and word.text[0].isupper():
        if word.text.isupper() and len(word.text) <= 4:
            return False  # an acronym
        if word.everyday and _sentence_start(text, word):
            return False  # "Has agreed", "Will call"
    elif cased and not lower:
        return False  # a lower-case word in a note that capitalises names
    elif word.known or len(word.low) < 4:
        return False
    nxt = words[i + 1].low if i + 1 < len(words) else ""
    return nxt not in EPONYM_NEXT


def _after_cue(text: str, words: Sequence[Word], i: int) -> bool:
    """``i`` follows a title, a relative or a role, maybe after ':' ',' '-' (``son: Bill``)."""
    if i == 0:
        return False
    prev, word = words[i - 1], words[i]
    if prev.low not in _CUES and "-" not in prev.low:
        return False
    gap = between(text, prev, word)
    if prev.line != word.line or len(gap) > 4 or any(ch.isalnum() for ch in gap):
        return False
    if prev.low in _HONORIFICS and word.initial:
        return True  # "Mr I", "MS S."
    if word.low in _STOP:
        return False
    if prev.low in TITLES and gap.strip(" .") == "":  # "ms: alert" is mental status, not Ms. Alert
        # "Dr. Hope", "dr varnell"; not "Dr aware" (a common word that is no name)
        return word.name or not word.common
    if prev.low in CREDENTIALS and word.name and _title_case(word) and not word.everyday:
        return True  # "NP Baker": a capitalised surname after a title written before it
    if prev.low in CREDENTIALS or prev.low in _TALK:
        # "NP GRETA", "contacts ODETTE RAE ...": a first name
        return word.first and (word.text[0].isupper() or not word.common)
    if _relative(prev.low):
        # after a relative, a first name even if it is a word ("son walt", "COPING-SISTER, MIRIAM"), or
        # a word that is no common word ("SONS ZOOKIE"); not a reply after a speaker label ("Nurse: Okay")
        return word.first or not (word.common or word.everyday)
    if prev.low in ("with", "to") and i >= 2 and words[i - 2].low in _TALK:
        return word.first or _proper(word) or word.initial
    return False


# What a clinician's name stands before in a note: "T BAKER ORDERED", "Q. VANTOSH AWARE", "ho mason paged".
_ACTS = frozenset(
    """
    aware ordered paged notified informed updated called rounded examined saw evaluated consulted
    requested recommends recommended wants agrees agreed states stated here
    """.split()
)
# Roles written before a clinician's surname that are no credential of a signature.
_ROLES_BEFORE = CREDENTIALS | frozenset(["ho", "resident", "intern", "fellow", "attending", "covering"])
# A single letter right before a word, in either case ("T BAKER", "t. baker"; a lower-case letter is no
# word of its own). Some are no initials: "A LINE", "I", "K LYTES" (potassium), "q day", "x 2".
_INITIAL_BEFORE_WORD = re.compile(r"(?:^|(?<=[^\w'/]))(?P<letter>[A-Za-z])(?P<dot>\.?)[ \t]+$")
_NO_INITIAL = frozenset("a i k q x".split())
_PER_BEFORE = re.compile(r"(?i)\bper[ \t]+$")


def _clinician(text: str, words: Sequence[Word], i: int, cased: bool, lower: bool) -> bool:
    """A clinician's surname by its grammar, in any case and even when it is an English word: after an
    initial or a role and before a verb of clinical work ("T BAKER ORDERED", "HO MASON PAGED",
    "q. vantosh aware"), or after ``per`` and an initial ("per k lane", "PER T. BAKER")."""
    word = words[i]
    if word.low in _STOP or word.low in PEOPLE or word.low in CREDENTIALS or word.clinical:
        return False
    if len(word.low) < 3 or (cased and not lower and not word.text[0].isupper()):
        return False
    nxt = words[i + 1] if i + 1 < len(words) else None
    acts = nxt is not None and nxt.low in _ACTS
    if not acts and "per" not in text[max(0, word.start - 9) : word.start].lower():
        return False  # most words: neither cue around them (a substring test, before any regex)
    initial = _INITIAL_BEFORE_WORD.search(text, max(0, word.start - 4), word.start)
    letter = initial.group("letter").lower() if initial is not None else ""
    # an initial after "per" is a person's ("per k lane"; "per q day" is a frequency): any listed name
    # or word in no vocabulary may follow
    if (
        initial is not None
        and letter not in "qx"
        and _PER_BEFORE.search(text, max(0, initial.start() - 8), initial.start())
    ):
        return word.name or word.unknown
    if initial is not None and letter in _NO_INITIAL and not initial.group("dot"):
        initial = None
    if nxt is None or not acts or nxt.line != word.line or between(text, word, nxt).strip():
        return False
    if initial is None:
        prev = words[i - 1] if i else None
        joined = prev is not None and prev.line == word.line and between(text, prev, word).strip(" .") == ""
        # a role and a verb of work around it: "HO JOY AWARE"
        return joined and prev is not None and prev.low in _ROLES_BEFORE and (word.name or word.unknown)
    # After a bare letter, which may be a lab value or a side ("L ARM"), only a listed name that is no
    # everyday word; after a dotted initial ("Q. VANTOSH") also a word in no vocabulary.
    return (word.name and not word.everyday) or (word.unknown and bool(initial.group("dot")))


def _before_cue(words: Sequence[Word], i: int, cased: bool, lower: bool) -> bool:
    """A first name before a verb of contact ("walt called"), a name before "family"."""
    if i + 1 >= len(words) or words[i + 1].low not in _AFTER_CUES or words[i].line != words[i + 1].line:
        return False
    if words[i].low in PEOPLE:
        return False  # "son visited"
    word, nxt = words[i], words[i + 1]
    if nxt.low in _CONTACT_NEXT:
        return (word.first and (word.text[0].isupper() or not word.common or lower)) or _proper(word)
    # "KEEP QUILLEN FAMILY", not "FROM FAMILY" or "Per family"
    everyday = word.everyday and word.common
    return nxt.low == "family" and word.name and not everyday


def _signature(text: str, words: Sequence[Word], i: int, next_credential: Sequence[int], cased: bool) -> bool:
    """``i`` is among the last words of a line that ends in a credential: ``Robert V. Castellane, RRT``."""
    if i + 1 >= len(words) or next_credential[i + 1] - i > 4:
        return False
    j = i + 1
    while j < len(words) and j - i <= 4 and _joined(text, words[j - 1], words[j]):
        credential = words[j]
        if credential.low in CREDENTIALS or credential.text in ("M", "R"):
            dotted = credential.text in ("M", "R") and text[credential.end : credential.end + 1] == "."
            if credential.text in ("M", "R") and not dotted:
                return False
            if dotted:  # M.D., R.N.
                credential = words[j + 1] if j + 1 < len(words) else credential
            rest = text[credential.end : text.find("\n", credential.end) % (len(text) + 1)]
            comma = "," in between(text, words[j - 1], words[j])
            full = j - i >= 2 and (words[i].first or words[i].initial)
            # "Halvey-Brandt MD plans": one proper word before a credential written as one
            full = full or (
                j - i == 1
                and _proper(words[i])
                and credential.text.isupper()
                and (not cased or words[i].text[0].isupper())
            )
            line_end = rest.strip(" \t.,;") == ""
            if (
                not line_end
                and not full
                and (credential.low in _AMBIGUOUS_CREDENTIALS or not (dotted or comma))
            ):
                return False
            return all(
                words[k].initial
                or (words[k].low not in _STOP and (words[k].name or _proper(words[k]) or not words[k].common))
                # in a note that capitalises names, any capitalised word of a signature ("Arjun Pemberton, MD")
                or (
                    cased
                    and words[k].text[0].isupper()
                    and not words[k].everyday
                    and words[k].low not in _STOP
                )
                for k in range(i, j)
            )
        j += 1
    return False


def _grow(text: str, words: Sequence[Word], found: set[int], cased: bool) -> None:
    """Add the initials, names and unknown words standing beside a found name (two either side)."""
    frontier = sorted(found)
    while frontier:
        i = frontier.pop()
        for j in (i - 1, i - 2, i + 1, i + 2):
            if j < 0 or j >= len(words) or j in found:
                continue
            lo, hi = min(i, j), max(i, j)
            if not all(_joined(text, words[k], words[k + 1]) for k in range(lo, hi)):
                continue
            if abs(i - j) == 2 and not words[(i + j) // 2].initial:
                continue  # skip over an initial only (John Q. Public), never over another word
            word = words[j]
            if _CREDENTIAL_INITIALS.match(text, word.start):
                continue  # the M of "Ferrand, M.D." is no initial
            if (
                _relative(word.low)  # "son-in-law Walt"
                or word.low in TITLES
                or (cased and word.text.isupper() and len(word.text) > 1)
            ):
                continue  # "John Smith  MRN": an acronym in a cased note is no part of a name
            capital = cased and word.text[0].isupper()
            listed = (word.first or word.name) and capital and not word.everyday
            # "Dr. Joy White": a capitalised surname right after a found first name
            listed = listed or (j == i + 1 and words[i].first and word.name and capital)
            # "ODETTE RAE PELTONEN": a first name beside a found first name, in any case
            listed = listed or (abs(j - i) == 1 and words[i].first and word.first and not word.everyday)
            if word.initial or _proper(word) or listed:
                found.add(j)
                frontier.append(j)


def _full_name(words: Sequence[Word], i: int, cased: bool, lower: bool) -> bool:
    """A first name then a surname, with no cue ("anna louise verhagen", "lou dunmore"): the first is a
    listed first name, the next a listed surname that is no common word or a word in no vocabulary."""
    if i + 1 >= len(words) or words[i].line != words[i + 1].line or words[i + 1].start - words[i].end != 1:
        return False
    word, nxt = words[i], words[i + 1]
    if not word.first or word.low in _STOP or word.low in PEOPLE:
        return False
    # In a note that capitalises names, a name in lower case only of two plain listed names ("martin carey")
    capitals = cased and not lower
    plain = not word.everyday and nxt.name and not nxt.common and not nxt.everyday
    if capitals and not (word.text[0].isupper() and nxt.text[0].isupper()) and not plain:
        return False
    if word.clinical or nxt.clinical:
        return False
    # in capitals, a word in no vocabulary is as likely an abbreviation ("MAE SPONT")
    unknown = nxt.unknown and len(nxt.low) >= 4 and cased and not word.everyday
    # a surname that is also a town ("Abigail Abernathy") counts when written with capitals
    place_ok = not nxt.place or (cased and nxt.text[0].isupper() and word.text[0].isupper())
    return (nxt.name and not nxt.common and place_ok) or unknown


def _relative_hyphen(word: Word) -> bool:
    """ "NIECE-LORNA": a relative and a name written as one hyphenated word."""
    parts = word.low.split("-")
    return len(parts) == 2 and parts[0] in PEOPLE and len(parts[1]) > 1 and parts[1] not in PEOPLE


_INITIAL_END = re.compile(r"(?:^|[\s(])[A-Z]\.$")


def _sentence_start(text: str, word: Word) -> bool:
    before = text[max(0, word.start - 6) : word.start].rstrip(" \t")
    if before.endswith(".") and _INITIAL_END.search(before):
        return False  # "RN T. <Surname>": the period of an initial ends no sentence
    return before == "" or before[-1] in ".!?:;\n-*("


def _last_line(text: str, words: Sequence[Word]) -> set[int]:
    """A note signed with a bare name at its end, on a line of its own or after the last sentence
    ("...1400U/HR. GRETA", "Nora Vellacott")."""
    if not words or text[words[-1].end :].strip(" \t\n.") != "":
        return set()
    last = [i for i, w in enumerate(words) if w.line == words[-1].line]
    last = last[-3:]
    while last:
        before = text[text.rfind("\n", 0, words[last[0]].start) + 1 : words[last[0]].start].rstrip()
        if not before or before[-1] in ".!?":
            break
        last = last[1:]  # the name starts after the sentence
    ok = bool(last) and all(
        words[i].initial
        or (
            words[i].text[0].isupper()
            and (words[i].first or not (words[i].everyday and words[i].common))
            and (words[i].name or _proper(words[i]))
        )
        for i in last
    )
    return set(last) if ok and any(words[i].first for i in last) else set()


_PHONE_WORDS = frozenset("cell home work phone tel telephone mobile ph pager number no contact at".split())


def _before_phone(text: str, words: Sequence[Word], phones: Sequence[PhiSpan], cased: bool) -> set[int]:
    """The name a contact's phone number follows ("2) son: Anton Rasmussen - 555-201-0147",
    "Dita Morrow cell# 555-310-0192"): up to three proper words right before it on its line."""
    taken: set[int] = set()
    starts = [w.start for w in words]
    for phone in phones:
        j = bisect.bisect_left(starts, phone.start) - 1
        while j >= 0 and words[j].low in _PHONE_WORDS and phone.start - words[j].end < 24:
            j -= 1
        run: list[int] = []
        while j >= 0 and len(run) < 3 and text.count("\n", words[j].end, phone.start) == 0:
            word = words[j]
            capital = not cased or word.text[0].isupper()
            if (
                not (capital and (word.first or word.name or _proper(word) or word.initial))
                or word.low in PEOPLE
            ):
                break
            run.append(j)
            j -= 1
        if len(run) >= 2 or (run and not words[run[0]].common):
            taken.update(run)
    return taken


# Sign-offs after which a message or letter names its writer ("Thanks, <Name>", "Regards,\n<Name>").
_SIGN_OFF = re.compile(
    r"(?i)\b(?:thanks|thank[ \t]+you|regards|sincerely|cheers|best|love|respectfully|warmly)[ \t]*,?[ \t]*\n?[ \t]*$"
)
# "<Name>, her sister, ...": a relative in apposition names the word before it.
_APPOSED_RELATIVE = re.compile(r"^,[ \t]+(?:his|her|their|the[ \t]+patient's|pt's|my)[ \t]+(?P<who>[a-z\-]+)")


def _signed_or_apposed(text: str, words: Sequence[Word], i: int, cased: bool) -> bool:
    """A name after a sign-off, or before a relative in apposition: a first name even if it is a word
    ("Thanks, Sunny"), or any capitalised word no dictionary has."""
    word = words[i]
    capital = word.text[0].isupper() or not cased
    if (
        not capital
        or word.low in _STOP
        or word.low in PEOPLE
        or (word.text.isupper() and len(word.text) <= 3)
    ):
        return False
    plausible = word.first or word.name or not word.common
    if not plausible:
        return False
    if _SIGN_OFF.search(text, max(0, word.start - 24), word.start):
        return True
    apposed = _APPOSED_RELATIVE.match(text[word.end : word.end + 40])
    return apposed is not None and _relative(apposed.group("who"))


def _and_more(text: str, words: Sequence[Word], found: set[int], cased: bool) -> None:
    """Names listed with a found one: "DR HALLORAN AND PIKE", "Sons Abel, Ivo and Lucas"."""
    for i in sorted(found):
        j = i + 1
        while j + 1 < len(words) and j - i <= 8 and words[j].line == words[i].line:
            joiner = words[j].low in ("and", "&") or between(text, words[j - 1], words[j]).strip() == ","
            if not joiner:
                break
            k = j + 1 if words[j].low in ("and", "&") else j
            nxt = words[k]
            capital = cased and nxt.text[0].isupper()
            # a first name that is an everyday word needs its capital in a cased note ("Okafor, my knee")
            first = nxt.first and (capital or not cased or not nxt.everyday)
            # a capitalised word no dictionary has, listed with names ("Abel, <Name> and Lucas")
            listed = first or (nxt.name and (capital or not nxt.common)) or (capital and not nxt.common)
            if nxt.low in _STOP or _relative(nxt.low) or not (listed or _proper(nxt)):  # "son-in-law Walt"
                break
            found.add(k)
            j = k + 1


def _propagate(text: str, words: Sequence[Word], found: set[int], things: frozenset[str]) -> None:
    """Other mentions of a found name. A name that is also a common word only where written the same
    way and not as an eponym; a clinical word ("Foley", "Down") never: "Dr. Foley" leaves "Foley catheter";
    nor a word the note uses for a thing."""
    plain = {
        words[i].low
        for i in found
        if not words[i].common and len(words[i].low) > 2 and words[i].low not in things
    }
    worded = {
        words[i].text for i in found if words[i].common and not words[i].clinical and len(words[i].low) > 2
    }
    for i, word in enumerate(words):
        if i in found:
            continue
        if word.low in plain:
            found.add(i)
        elif word.text in worded:
            nxt = words[i + 1].low if i + 1 < len(words) else ""
            if nxt not in EPONYM_NEXT:
                found.add(i)


def _inside(words: Sequence[Word], spans: Sequence[PhiSpan]) -> Iterator[int]:
    """Indexes of the words within ``spans`` (one sweep; both sorted by position)."""
    ordered = merge_phi(list(spans))
    k = 0
    for i, word in enumerate(words):
        while k < len(ordered) and ordered[k].end <= word.start:
            k += 1
        if k < len(ordered) and ordered[k].start <= word.start and word.end <= ordered[k].end:
            yield i


def _unknown_capitalised(
    text: str, words: Sequence[Word], i: int, cased: bool, things: frozenset[str]
) -> bool:
    """Recall first (Philter's idea): a capitalised word in no vocabulary, inside a sentence of a note
    that capitalises names ("Family meeting with Oyelaran today"), whatever its cue, unless the note uses
    it for a thing."""
    word = words[i]
    if not cased or not word.unknown or not word.text[0].isupper() or len(word.low) < 3:
        return False
    if word.text.isupper() or _sentence_start(text, word):
        return False  # acronyms, and capitals that only start a sentence
    if word.low in things:
        return False
    return not any(ch.isdigit() for ch in text[word.end : word.end + 1])


def _after_determiner(text: str, words: Sequence[Word], i: int, cased: bool) -> bool:
    """A capitalised word after an article or a count, with at most two lower-case words between."""
    word = words[i]
    if not cased or not word.text[0].isupper() or word.text.isupper():
        return False
    nxt = words[i + 1] if i + 1 < len(words) else None
    if nxt is not None and nxt.line == word.line and (nxt.low in _HOUSEHOLD or nxt.low in PEOPLE):
        return False
    match = _DETERMINER_BEFORE.search(text, max(0, word.start - 48), word.start)
    if match is None:
        return False
    # The leftmost match may hold a nearer article among its words ("utilizing a <Word>"): what counts is
    # what stands between the word and the nearest one.
    between_words = match.group("between").lower().split()
    nearest = max((k for k, w in enumerate(between_words) if w in _ARTICLES), default=-1)
    return not any(w in _CUES or w in _STOP for w in between_words[nearest + 1 :])


def _things(text: str, words: Sequence[Word], cased: bool) -> frozenset[str]:
    """Words that somewhere in the note name an instrument, a material or a brand: where no cue makes
    them a person, they are no name anywhere in the note ("a <Brand>" ... "<Brand> was removed")."""
    things = {
        i
        for i in range(len(words))
        if names_a_thing(text, words, i) or _after_determiner(text, words, i, cased)
    }
    # A list of things is all things: "a <Brand> and <Brand>", "<drug>, <Brand> and <Eponym>" (a cue still
    # makes a person of a word, and people listed beside relatives stay people).
    members = [i for i, w in enumerate(words) if w.low not in _CONJUNCTIONS]
    run: list[int] = []
    for k, i in enumerate([*members, -1]):
        if run and (i < 0 or not _listed_after(text, words[members[k - 1]], words[i])):
            if len(run) > 1 and any(j in things or _plain_noun(words[j]) for j in run):
                things.update(run)
            run = []
        run.append(i)
    return frozenset(words[i].low for i in things)


def _plain_noun(word: Word) -> bool:
    """A lower-case dictionary word that is no everyday word and no relative: "thrombin", not "wife"."""
    return word.text.islower() and word.common and not word.everyday and word.low not in PEOPLE


_CONJUNCTIONS = frozenset(["and", "or"])
_LIST_SEPARATORS = frozenset([",", "and", "or", ",and", ",or", "&"])


def _listed_after(text: str, left: Word, right: Word) -> bool:
    """``right`` follows ``left`` in a list: a comma, "and" or "or" between them, on one line."""
    gap = text[left.end : right.start].replace(" ", "").replace("\t", "").lower()
    return left.line == right.line and gap in _LIST_SEPARATORS


def find_names(
    text: str,
    words: Sequence[Word],
    case: tuple[bool, bool],
    seeds: Sequence[PhiSpan] = (),
    phones: Sequence[PhiSpan] = (),
    recall_first: bool = False,
) -> Iterator[PhiSpan]:
    """NAME spans in ``text``, given its ``words``, names other recognizers found (``seeds``) and the
    phone numbers found (a contact's name comes before them). ``recall_first`` also takes capitalised
    words in no vocabulary (more PHI removed, more clinical words lost: see docs/deidentification.md)."""
    next_credential = [len(words) + 5] * (len(words) + 1)
    for i in range(len(words) - 1, -1, -1):
        credential = words[i].low in CREDENTIALS or words[i].text in ("M", "R")
        next_credential[i] = i if credential else next_credential[i + 1]
    cased, lower = case
    things = _things(text, words, cased)
    found = {
        i
        for i in range(len(words))
        if (_by_lists(text, words, i, cased, lower) and words[i].low not in things)
        or _after_cue(text, words, i)
        or _before_cue(words, i, cased, lower)
        or _clinician(text, words, i, cased, lower)
        or _signature(text, words, i, next_credential, cased)
        or _signed_or_apposed(text, words, i, cased)
    }
    for i in range(len(words) - 1):
        if _full_name(words, i, cased, lower):
            found.update((i, i + 1))
    found.update(_inside(words, seeds))
    found |= _last_line(text, words)
    found |= _before_phone(text, words, phones, cased)
    if recall_first:
        found.update(i for i in range(len(words)) if _unknown_capitalised(text, words, i, cased, things))
    _grow(text, words, found, cased)
    _and_more(text, words, found, cased)
    for word in words:
        if _relative_hyphen(word):
            yield PhiSpan(word.start + word.text.index("-") + 1, word.end, PhiType.NAME)
    _propagate(text, words, found, things)
    # One span per name: words joined by a space, an initial's period or a comma ("McAllister, Jane").
    run: list[int] = []
    for i in sorted(found):
        if run and not (i == run[-1] + 1 and _joined(text, words[run[-1]], words[i])):
            yield _span(text, words, run)
            run = []
        run.append(i)
    if run:
        yield _span(text, words, run)


def _span(text: str, words: Sequence[Word], run: list[int]) -> PhiSpan:
    last = words[run[-1]]
    end = last.end - 2 if last.text.lower().endswith("'s") else last.end
    if text[end : end + 1] == "." and last.initial:
        end += 1  # "J." wholly
    start = words[run[0]].start
    initial = _INITIAL_BEFORE.search(text, max(0, start - 4), start)
    if initial is not None:
        start = initial.start()  # "q. vargo rrt": a lower-case initial is no word of its own
    return PhiSpan(start, end, PhiType.NAME)
