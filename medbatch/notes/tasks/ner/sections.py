"""Which section of a note each offset lies in, from its headers ("Past Medical History:", "A/P:").

A header is a short phrase at the start of a line followed by a colon, or a line of capitals on its own.
Headers medbatch does not know ("HEENT:" inside the exam) leave the section as it was, so a subheading
never drops an entity out of its section.
"""

from __future__ import annotations

import bisect
import re

from medbatch.notes.spans import Section

_HEADER = re.compile(r"^[ \t]*(?P<name>[A-Za-z][A-Za-z /&'()-]{0,48}?)[ \t]*(?::|$)", re.MULTILINE)
# Header words -> section, checked in order (the first that the header's words contain wins), so "family
# history" is family history, not past history.
_RULES: tuple[tuple[re.Pattern[str], Section], ...] = tuple(
    (re.compile(rf"^(?:{pattern})$", re.IGNORECASE), section)
    for pattern, section in (
        (
            r"chief complaints?|cc|reason for (?:visit|admission|consult(?:ation)?)|presenting complaint",
            Section.CHIEF_COMPLAINT,
        ),
        (
            r"(?:history of )?present(?:ing)? illness|hpi|interval history|subjective|history",
            Section.HISTORY_OF_PRESENT_ILLNESS,
        ),
        (r"family (?:medical )?(?:history|hx)|fh|fhx", Section.FAMILY_HISTORY),
        (r"social (?:history|hx)|sh|shx|habits", Section.SOCIAL_HISTORY),
        (
            r"(?:past )?(?:medical|surgical|medical and surgical|med/surg) (?:history|hx)|pmh|psh|pmhx|"
            r"past history|past medical history/problem list|problem list|previous history",
            Section.PAST_HISTORY,
        ),
        (
            r"(?:current |home |outpatient |admission |discharge |active )?(?:medications?|meds)"
            r"(?: on admission| at home| on discharge)?",
            Section.MEDICATIONS,
        ),
        (r"(?:drug )?allerg(?:y|ies)(?: and adverse reactions)?|adverse reactions", Section.ALLERGIES),
        (r"review of systems?|ros", Section.REVIEW_OF_SYSTEMS),
        (
            r"(?:physical )?exam(?:ination)?(?: on admission| at discharge)?|pe|vital signs|vitals",
            Section.PHYSICAL_EXAM,
        ),
        (
            r"results|labs?|laboratory(?: data| results| studies)?|studies|imaging|radiology|diagnostics?|"
            r"data|pertinent results|findings|micro(?:biology)?",
            Section.RESULTS,
        ),
        (
            r"assessment(?: and plan| & plan|/plan)?|plan|a/p|a&p|impression(?: and plan)?|"
            r"(?:discharge |admission |final )?diagnos[ie]s|recommendations?|hospital course|"
            r"clinical impression",
            Section.ASSESSMENT_AND_PLAN,
        ),
    )
)


def _section_of(header: str) -> Section | None:
    name = " ".join(header.replace("&", " & ").split())
    for pattern, section in _RULES:
        if pattern.match(name):
            return section
    return None


class SectionMap:
    """The sections of one text, looked up by offset (binary search: O(log headers) per entity)."""

    def __init__(self, text: str) -> None:
        self._starts: list[int] = []
        self._sections: list[Section] = []
        for match in _HEADER.finditer(text):
            line_end = text.find("\n", match.start())
            line = text[match.start() : line_end if line_end >= 0 else len(text)]
            colon = text.startswith(":", match.end() - 1) and match.group().rstrip().endswith(":")
            # Without a colon only a line of capitals alone counts ("ASSESSMENT AND PLAN").
            if not colon and not (line.strip().isupper() and line.strip() == match.group("name").strip()):
                continue
            section = _section_of(match.group("name"))
            if section is not None:
                self._starts.append(match.start())
                self._sections.append(section)

    def at(self, offset: int) -> Section | None:
        """The section ``offset`` lies in, or None before the first recognized header."""
        index = bisect.bisect_right(self._starts, offset) - 1
        return self._sections[index] if index >= 0 else None
