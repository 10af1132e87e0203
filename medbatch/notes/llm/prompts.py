"""Prompts, laid out for prefix caching: the system prompt, the PHI task, and the frame of every stage's
instruction (each stage writes its own task sentence and answer shape).

Every request of one text is ``[system prompt][the text][task instruction]``: the system prompt and the
text come first and are identical across tasks, so the engine computes their KV cache once and reuses it
for every task of the note; only the short instruction differs. The chat template itself (Llama-3 instruct
for OpenBioLLM and Meditron) is applied by the backend from the model's tokenizer config.
"""

from __future__ import annotations

from collections.abc import Sequence

from medbatch.spec import PhiType

PROMPT_VERSION = "medbatch-prompts-v3"

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


def instruction(parts: Sequence[tuple[str, str]]) -> str:
    """The instruction for one or more stages' ``(task, answer shape)``, answered in one JSON object."""
    if len(parts) == 1:
        task = parts[0][0]
        task = task[:1].upper() + task[1:]
    else:
        task = " ".join(f"({i}) {t[:1].upper() + t[1:]}" for i, (t, _shape) in enumerate(parts, 1))
    shape = ", ".join(shape for _task, shape in parts)
    return f"Task: {task} Answer as JSON: {{{shape}}}."


def messages(text: str, instruction: str, retry_reason: str | None = None) -> list[dict[str, str]]:
    """Chat messages for one task on one text; ``retry_reason`` (a safe message) asks for a corrected answer."""
    user = _note_block(text) + instruction
    if retry_reason is not None:
        user += f"\n\nYour previous answer was rejected ({retry_reason}). Answer again, following the format."
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]
