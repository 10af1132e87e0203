"""Where a proper word names a thing, not a person or a place: an eponym or a brand before an instrument,
a material or a structure ("<Word> clamps", "<Word> fascia"), or after a size ("3-0 <Word>", "#4 <Word>",
"24 French"). Names and places both ask, so a word of surgery is neither, whichever found it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from medbatch.notes.tasks.deid.tokens import Word

# A dose after a word makes it a drug: "<Word> 500 mg", "<Word> 0.5 mcg/kg", "<Word> 2 tabs".
_DOSE_AFTER = re.compile(
    r"[ \t]+\d{1,5}(?:[.,]\d{1,3})?[ \t]?(?:mg|mcg|µg|g|ml|mL|units?|iu|IU|mEq|meq|tabs?|tablets?|caps?|capsules?|puffs?|drops?)\b"
)
# Names of operations end the same way: osteotomy, gastrectomy, colostomy, arthroplasty, fundoplication.
_PROCEDURE = re.compile(r"(?:otomy|ectomy|ostomy|plasty|plication|pexy|rrhaphy|desis)s?$")
_UNITS = frozenset("lab laboratory unit room suite team service".split())
# Rating instruments named after a person and what they rate: "<Eponym> Sleepiness Scale", "<Eponym> Coma
# Scale", "<Eponym> fall score".
_MEASURES = frozenset("scale scales score scores criteria classification index grid".split())
# Words after a listed name that make it an eponym, not a person.
EPONYM_NEXT = frozenset(
    """
    disease diseases syndrome syndromes sign signs catheter cath tube tubes drain drains maneuver
    manoeuvre test tests score scale criteria classification fracture procedure operation repair
    reflex phenomenon palsy disorder tumor tumour lymphoma sarcoma ulcer blade mask bag line lines
    bolt stocking stockings position solution formula law node nodes cells cell body bodies triad
    sump grid chart index
    """.split()
) | frozenset(
    # What an eponym or a brand names in surgery and anatomy ("Allis clamps", "Mayo scissors", "Scarpa
    # fascia"): generic head nouns of instruments, materials and structures, so a proper word before one is
    # a thing, whatever lists know the word.
    """
    clamp clamps forceps scissors retractor retractors needle needles suture sutures stitch stitches tie
    ties trocar trocars dissector dissectors rongeur rongeurs elevator elevators curette curettes hook
    hooks mesh stapler staples clip clips sponge sponges pad pads dressing dressings drape drapes shunt
    shunts valve valves stent stents graft grafts screw screws wire wires pin pins rod rods cannula
    cannulas sheath sheaths balloon balloons loop loops snare probe probes scope port ports device
    implant implants pump pumps fascia ligament ligaments canal space pouch duct ducts gland glands
    muscle muscles nerve nerves artery arteries vein veins layer membrane incision incisions approach
    technique knot knots dilator dilators speculum tenaculum spatula blades tubing tubings material
    materials system systems kit kits sling slings adhesive glue powder gel foam sealant spray paste
    ointment prep preparation preparations scrub tape strip strips saw drill bur burr reamer osteotome
    cautery laser monitor stand frame holder splint brace collar evacuator lead leads method methods
    resection surgery ligation biopsy closure flap exercise exercises agent agents
    """.split()
)
# A size before a word makes it a material or an instrument, never a person: "2-0 Vicryl"-like suture
# sizes, "#4", "27-French", "14 gauge", "5 mm".
SIZE_BEFORE = re.compile(
    r"(?:\b\d{1,2}-0|(?<![\d.,/])0|#[ \t]?\d{1,3}(?:-0)?|\b\d{1,3}[ \t]?-?[ \t]?(?:fr|french|gauge|ga|g|mm|cm))"
    r"(?:[ \t]+[a-z]+)?[ \t\-]*$",
    re.IGNORECASE,
)


def names_a_thing(text: str, words: Sequence[Word], i: int) -> bool:
    """An eponym or a brand where it stands: before an instrument, material or structure ("<Word>
    clamps", "<Word> fascia"), or after a size ("3-0 <Word>", "#4 <Word>")."""
    word = words[i]
    if i + 1 < len(words) and words[i + 1].line == word.line and _PROCEDURE.search(words[i + 1].low):
        return True  # "<Eponym> osteotomy", "<Eponym> fundoplication": a named operation
    if i + 1 < len(words) and words[i + 1].low in EPONYM_NEXT and words[i + 1].line == word.line:
        # "<Hospital> cath lab": the thing names a unit, and what stands before it may be a hospital
        return i + 2 >= len(words) or words[i + 2].low not in _UNITS
    if (
        i + 2 < len(words)
        and words[i + 2].low in _MEASURES
        and words[i + 1].common
        and words[i + 2].line == words[i + 1].line == word.line
    ):
        return True  # "<Eponym> Sleepiness Scale": an instrument, what it rates between
    if SIZE_BEFORE.search(text, max(0, word.start - 24), word.start) is not None:
        return True
    if _DOSE_AFTER.match(text, word.end):
        return True  # "<Brand> 500 mg": a drug
    return (
        word.low in ("fr", "french", "gauge")
        and SIZE_BEFORE.search(text, max(0, word.start - 8), word.end) is not None
    )
