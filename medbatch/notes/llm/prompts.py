"""Prompts for the three tasks, laid out for prefix caching.

Every request of one text is ``[system prompt][the text][task instruction]``: the system prompt and the
text come first and are identical across tasks, so the engine computes their KV cache once and reuses it
for every task of the note; only the short instruction differs. The chat template itself (Llama-3 instruct
for OpenBioLLM and Meditron) is applied by the backend from the model's tokenizer config.
"""

from __future__ import annotations

from medbatch.spec import PhiType

PROMPT_VERSION = "medbatch-prompts-v2"

SYSTEM_PROMPT = (
    "You are a clinical natural-language-processing assistant. You read one clinical note and answer one "
    "task about it as JSON that follows the requested format exactly. When you list text from the note, "
    "copy it character for character; never paraphrase, correct or invent it."
)

_PHI_GUIDE = (
    "NAME (patients, relatives, clinicians, other people), DATE (any date more specific than a year), "
    "AGE (ages over 89), PHONE, FAX, EMAIL, SSN, MRN, ACCOUNT, HEALTH_PLAN, LICENSE, VEHICLE, DEVICE, ID "
    "(other identifying numbers), URL, IP, ADDRESS (street address), ZIP, LOCATION (city, county, "
    "facility or other place smaller than a state)"
)


def _note_block(text: str) -> str:
    return f'Clinical note:\n"""\n{text}\n"""\n\n'


def phi_instruction() -> str:
    """The de-identification task."""
    types = ", ".join(t.value for t in PhiType)
    return (
        "Task: list every piece of protected health information in the note. Types: "
        f"{_PHI_GUIDE}. Quote each exactly as it appears; list each distinct value once. "
        f'Answer as JSON: {{"phi": [{{"text": "...", "type": "..."}}]}} with type one of {types}. '
        'Answer {"phi": []} if there is none.'
    )


_ENTITY_GUIDE = (
    "Quote each exactly as it appears. For each, give its assertion: present, absent (negated: "
    '"denies chest pain"), possible ("rule out PE"), conditional ("return if fever"), historical ("history '
    "of MI\") or family (a relative's). For a MEDICATION, also quote its dose, unit, route, frequency and "
    "duration as written after it on its line, or null for each the note does not say."
)
_ENTITY_SHAPE = (
    '{"text": "...", "type": "...", "assertion": "present", "dose": null, "unit": null, "route": null, '
    '"frequency": null, "duration": null}'
)


def entities_instruction(types: tuple[str, ...]) -> str:
    """The NER task for ``types``."""
    return (
        f"Task: list the clinical entities in the note of these types: {', '.join(types)}. {_ENTITY_GUIDE} "
        f'Answer as JSON: {{"entities": [{_ENTITY_SHAPE}]}}.'
    )


def summary_instruction(max_words: int) -> str:
    """The summarization task."""
    return (
        f"Task: summarize the note for a clinician in at most {max_words} words: the main problems, "
        "findings, treatments and plan, never stating as present a finding the note negates, and naming only problems and "
        "medications the note names. Do not include names, dates or identifying numbers. "
        'Answer as JSON: {"summary": "..."}.'
    )


def analysis_instruction(types: tuple[str, ...], max_words: int) -> str:
    """NER and summary in one answer (combined-call mode)."""
    return (
        f"Task: (1) list the clinical entities in the note of these types: {', '.join(types)}. "
        f"{_ENTITY_GUIDE} (2) Summarize the note for a clinician in at most {max_words} words, without "
        "names, dates or identifying numbers, never stating as present a finding the note negates. "
        f'Answer as JSON: {{"entities": [{_ENTITY_SHAPE}], "summary": "..."}}.'
    )


def messages(text: str, instruction: str, retry_reason: str | None = None) -> list[dict[str, str]]:
    """Chat messages for one task on one text; ``retry_reason`` (a safe message) asks for a corrected answer."""
    user = _note_block(text) + instruction
    if retry_reason is not None:
        user += f"\n\nYour previous answer was rejected ({retry_reason}). Answer again, following the format."
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
