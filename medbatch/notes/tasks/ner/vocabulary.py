"""The public vocabularies NER reads: ICD-10-CM terms with codes, drug names with ids, and the term lists
for procedures, tests and anatomy (see ``data/SOURCES.md``).

Terms are keyed by their normalized token sequence (``normalize_term``), so "Parkinson's disease" in a note
finds "Parkinson's disease" in ICD-10-CM however either is spaced or capitalised.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from medbatch.notes.tasks.ner.tokens import Token, tokenize

_DATA = "medbatch.notes.tasks.ner"
MAX_TERM_TOKENS = 8
# Qualifiers ICD-10-CM adds to a description that a clinician does not write ("Pneumonia, unspecified
# organism" is what a note calls pneumonia); parenthesized words are supplementary in ICD-10-CM's own
# conventions ("Essential (primary) hypertension").
_QUALIFIERS = re.compile(
    r"\([^)]*\)|\[[^\]]*\]|,?\s*\b(?:unspecified(?: organism| site| type)?|not elsewhere classified|"
    r"without (?:complications?|mention of [a-z ]+)|nos)\b",
    re.IGNORECASE,
)


def normalize_term(text: str) -> str:
    """The lookup key of a term: lower-case word and number tokens joined by spaces, ICD qualifiers and
    punctuation dropped."""
    cleaned = _QUALIFIERS.sub(" ", text.lower())
    return " ".join(t.text for t in tokenize(cleaned) if t.text.isalnum())


def _singular(key: str) -> str:
    """The key with its last word made singular the simple English way (enough to look a plural up)."""
    head, _, last = key.rpartition(" ")
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 4 and last.endswith(("ses", "xes", "zes", "ches", "shes")):
        last = last[:-2]
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is")):
        last = last[:-1]
    return f"{head} {last}" if head else last


@dataclass(frozen=True, slots=True)
class Concept:
    """What a vocabulary says about a term: its entity type and, where it has one, its code."""

    type: str
    code: str | None = None
    code_system: str | None = None


def _read_tsv(name: str) -> Iterator[list[str]]:
    raw = resources.files(_DATA).joinpath(f"data/{name}").read_bytes()
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if line:
            yield line.split("\t")


@cache
def concepts() -> dict[str, Concept]:
    """Every normalized term of every vocabulary and what it is. The hand-written term lists win over
    ICD-10-CM, drugs and body sites (they hold the clinical abbreviations those spell out); a diagnosis
    or a drug wins over a body site of the same words."""
    found: dict[str, Concept] = {}
    for term, code in _read_tsv("icd10cm.tsv.gz"):
        found[term] = Concept("PROBLEM", code, "ICD-10-CM")
    for term, _canonical, code, system in _read_tsv("drugs.tsv.gz"):
        found.setdefault(term, Concept("MEDICATION", code or None, system or None))
    for (term,) in _read_tsv("anatomy.tsv.gz"):
        found.setdefault(term, Concept("ANATOMY"))
    lexicon = yaml.safe_load(resources.files(_DATA).joinpath("data/lexicon.yaml").read_text("utf-8"))
    for entity_type, terms in lexicon.items():
        for term in terms:
            key = normalize_term(term)
            known = found.get(key)
            keep_code = known is not None and known.type == entity_type
            found[key] = known if keep_code and known is not None else Concept(entity_type)
    return found


@cache
def _lengths() -> dict[str, tuple[int, ...]]:
    """For each first word, the token lengths of the terms that start with it, longest first."""
    lengths: dict[str, set[int]] = {}
    for term in concepts():
        words = term.split(" ")
        if len(words) <= MAX_TERM_TOKENS:
            lengths.setdefault(words[0], set()).add(len(words))
    return {word: tuple(sorted(found, reverse=True)) for word, found in lengths.items()}


def _find(table: dict[str, Concept], key: str) -> Concept | None:
    found = table.get(key)
    if found is None and key.endswith("s"):
        found = table.get(_singular(key))
    return found


def lookup(text: str) -> Concept | None:
    """The concept a term names (as written, or its singular), or None."""
    return _find(concepts(), normalize_term(text))


@dataclass(frozen=True, slots=True)
class TermMatch:
    """A vocabulary term found in a token sequence: tokens ``[first, last]`` and what the term is."""

    first: int
    last: int
    concept: Concept


def match_terms(tokens: list[Token]) -> list[TermMatch]:
    """Longest vocabulary terms in ``tokens``, left to right, not overlapping (punctuation tokens are
    skipped inside a term, as ``normalize_term`` drops them). Linear in the number of tokens."""
    words = [(i, t.text.lower()) for i, t in enumerate(tokens) if t.text.isalnum()]
    table, lengths = concepts(), _lengths()
    found: list[TermMatch] = []
    position = 0
    while position < len(words):
        index, word = words[position]
        matched = None
        for length in lengths.get(word, ()):
            if position + length > len(words):
                continue
            key = " ".join([w for _, w in words[position : position + length]])
            concept = _find(table, key)
            if concept is not None:
                matched = TermMatch(index, words[position + length - 1][0], concept)
                position += length
                break
        if matched is None:
            position += 1
        else:
            found.append(matched)
    return found
