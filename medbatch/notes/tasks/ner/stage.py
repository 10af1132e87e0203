"""The NER stage: clinical entities with assertion, section, code and medication attributes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from medbatch.notes.output import EntityColumns, EntityOut
from medbatch.notes.spans import Entity
from medbatch.notes.stage import ParseError, Stage, StageContext
from medbatch.notes.tasks.chunking import Chunk, dedupe_entities
from medbatch.notes.tasks.ner import annotate, find_entities
from medbatch.notes.tasks.ner.answer import EntitiesAnswer, entity_list
from medbatch.spec import NerSpec

_GUIDE = (
    "Quote each exactly as it appears. For each, give its assertion: present, absent (negated: "
    '"denies chest pain"), possible ("rule out PE"), conditional ("return if fever"), historical ("history '
    "of MI\") or family (a relative's). For a MEDICATION, also quote its dose, unit, route, frequency and "
    "duration as written after it on its line, or null for each the note does not say."
)
_SHAPE = (
    '"entities": [{"text": "...", "type": "...", "assertion": "present", "dose": null, "unit": null, '
    '"route": null, "frequency": null, "duration": null}]'
)


def _types(options: NerSpec) -> tuple[str, ...]:
    return tuple(t.value for t in options.types)


class NerStage(Stage[NerSpec, list[Entity]]):
    """Entities of ``tasks.ner.types``: spans from the engine, annotated by the same rules for every
    engine (so a model's entities carry sections, codes and ConText assertions like the CPU's)."""

    name = "ner"
    columns = EntityColumns
    answer = EntitiesAnswer

    def compute(self, text: str, options: NerSpec) -> list[Entity]:
        """The CRF and vocabulary entities (annotated once the note's chunks are merged)."""
        return find_entities(text, _types(options))

    def empty(self, options: NerSpec) -> list[Entity]:
        """No entities."""
        return []

    def task(self, options: NerSpec) -> str:
        """List the entities of the requested types, with assertion and attributes."""
        return (
            f"list the clinical entities in the note of these types: {', '.join(_types(options))}. {_GUIDE}"
        )

    def answer_shape(self, options: NerSpec) -> str:
        """The entities list."""
        return _SHAPE

    def schema(self, options: NerSpec) -> dict[str, Any]:
        """The answer's schema with the entity type narrowed to the requested types."""
        schema = EntitiesAnswer.model_json_schema()
        schema["$defs"]["EntityType"]["enum"] = list(_types(options))
        return schema

    def read_answer(self, answer: Any, text: str, options: NerSpec) -> tuple[list[Entity], ParseError | None]:
        """The quoted entities located in ``text`` (a quote found nowhere raises ``QuoteError``)."""
        assert isinstance(answer, EntitiesAnswer)
        return entity_list(answer.entities, text, _types(options)), None

    def quotes(self, answer: Any) -> int:
        """One quote per entity."""
        return len(answer.entities) if isinstance(answer, EntitiesAnswer) else 0

    async def merge(
        self,
        subject: str,
        parts: Sequence[tuple[Chunk, list[Entity]]],
        options: NerSpec,
        again: Callable[[str], Awaitable[list[Entity]]],
    ) -> list[Entity]:
        """The chunks' entities in note offsets, overlaps deduplicated, annotated on the whole note."""
        return annotate(subject, dedupe_entities([e.shifted(c.start) for c, found in parts for e in found]))

    def output(
        self, subject: str, value: list[Entity], options: NerSpec, context: StageContext
    ) -> EntityColumns:
        """The entities, with the note's PHI values scrubbed from their text."""
        entities = context.scrub.entities(value) if context.scrub is not None else value
        return EntityColumns(entities=[EntityOut.of(e) for e in entities])
