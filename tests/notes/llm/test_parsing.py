"""Adversarial model answers: nothing unverified gets through, and errors quote nothing."""

from __future__ import annotations

import json

import pytest

from medbatch.notes.llm.parsing import locate, parse_answer, phi_spans
from medbatch.notes.llm.schemas import PhiAnswer, closed
from medbatch.notes.spans import Assertion, Entity, MedicationAttributes
from medbatch.notes.stage import ParseError
from medbatch.notes.tasks.ner import annotate
from medbatch.notes.tasks.ner.answer import EntitiesAnswer, entity_list
from medbatch.notes.tasks.ner.stage import NerStage
from medbatch.notes.tasks.summary.stage import clean_summary
from medbatch.spec import NerSpec

NOTE = "Pt John Smith seen 03/14/2024. John Smith  reports chest pain. Metoprolol 25 mg."


def phi(raw: object) -> PhiAnswer:
    answer = parse_answer(PhiAnswer, raw if isinstance(raw, str) else json.dumps(raw))
    assert isinstance(answer, PhiAnswer)
    return answer


def test_quotes_are_located_everywhere_with_whitespace_tolerance() -> None:
    spans, error = phi_spans(phi({"phi": [{"text": "John Smith", "type": "NAME"}]}), NOTE)
    assert error is None
    assert [NOTE[s.start : s.end] for s in spans] == ["John Smith", "John Smith"]
    assert {s.source.value for s in spans} == {"llm"}
    assert locate("a John\n Smith b", "John Smith") == [(2, 13)]


def test_quotes_not_in_the_text_are_reported_and_verified_ones_kept() -> None:
    answer = phi({"phi": [{"text": "Jane Doe", "type": "NAME"}, {"text": "03/14/2024", "type": "DATE"}]})
    spans, error = phi_spans(answer, NOTE)
    assert [NOTE[s.start : s.end] for s in spans] == ["03/14/2024"]
    assert str(error) == "1 of 2 quoted identifiers are not in the text"
    assert "Jane" not in str(error)


def test_offsets_from_the_model_are_ignored() -> None:
    answer = phi({"phi": [{"text": "John Smith", "type": "NAME", "start": 0, "end": 2}]})
    spans, _ = phi_spans(answer, NOTE)
    assert [(s.start, s.end) for s in spans] == [(3, 13), (31, 41)]


def test_overlapping_quotes_yield_overlapping_spans_for_the_merger() -> None:
    answer = phi({"phi": [{"text": "John Smith", "type": "NAME"}, {"text": "Smith", "type": "NAME"}]})
    spans, error = phi_spans(answer, NOTE)
    assert error is None
    assert len(spans) == 4  # merge_phi unions them downstream


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"phi": [{"text": "John Smith", "type": "NAME"}', "truncated JSON"),
        ('{"phi": [{"text": "John Sm', "truncated JSON"),
        ("Sure! Here are the identifiers: John Smith", "invalid JSON at character 0"),
        ('{"phi": "John Smith"}', "answer does not match the schema: phi: Input should be a valid list"),
        (
            '{"phi": [{"text": "John Smith", "type": "PERSON"}]}',
            "answer does not match the schema: phi.0.type",
        ),
        ('{"phi": [{"text": "", "type": "NAME"}]}', "answer does not match the schema: phi.0.text"),
        ('{"findings": []}', "answer does not match the schema: phi: Field required"),
    ],
)
def test_malformed_answers_raise_safe_errors(raw: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_answer(PhiAnswer, raw)
    assert str(info.value).startswith(message)
    assert "John" not in str(info.value)


def test_control_characters_in_quotes_never_verify() -> None:
    answer = phi(
        '{"phi": [{"text": "John\x07Smith", "type": "NAME"}, {"text": "03/14/2024\x00", "type": "DATE"}]}'
    )
    spans, error = phi_spans(answer, NOTE)
    assert spans == []
    assert str(error) == "2 of 2 quoted identifiers are not in the text"


def test_entities_must_be_in_the_text_and_of_requested_types() -> None:
    answer = parse_answer(
        EntitiesAnswer,
        json.dumps(
            {
                "entities": [
                    {"text": "chest pain", "type": "PROBLEM"},
                    {"text": "Metoprolol", "type": "MEDICATION"},
                    {"text": "25 mg", "type": "DOSAGE"},
                ]
            }
        ),
    )
    found = entity_list(answer.entities, NOTE, ("PROBLEM", "MEDICATION"))
    assert [(e.type, e.text, NOTE[e.start : e.end]) for e in found] == [
        ("PROBLEM", "chest pain", "chest pain"),
        ("MEDICATION", "Metoprolol", "Metoprolol"),
    ]
    made_up = parse_answer(
        EntitiesAnswer, json.dumps({"entities": [{"text": "aspirin", "type": "MEDICATION"}]})
    )
    with pytest.raises(ParseError, match="1 of 1 quoted entities are not in the text"):
        entity_list(made_up.entities, NOTE, ("MEDICATION",))


def _entities(items: list[dict[str, object]], text: str) -> list[Entity]:
    answer = parse_answer(EntitiesAnswer, json.dumps({"entities": items}))
    return entity_list(answer.entities, text, ("PROBLEM", "MEDICATION"))


def test_stated_medication_attributes_are_kept_only_as_the_note_writes_them_after_the_drug() -> None:
    text = "Plan: start Lisinopril 10 MG po daily for 30 days.\nFollow up in 2 weeks."
    (drug,) = _entities(
        [
            {
                "text": "Lisinopril",
                "type": "MEDICATION",
                "dose": "10",
                "unit": "mg",  # the note writes MG: the note's characters are kept
                "route": "IV",  # not what the note says: dropped
                "frequency": "daily",
                "duration": "2 weeks",  # in the text, but on the next line: not this drug's
            }
        ],
        text,
    )
    assert drug.attributes == MedicationAttributes(dose="10", unit="MG", frequency="daily")
    (annotated,) = annotate(text, [drug])
    assert annotated.attributes == MedicationAttributes(
        dose="10", unit="MG", route="po", frequency="daily", duration="for 30 days"
    ), "what the model left out is read from the note"


def test_a_stated_assertion_is_kept_for_a_single_mention_and_context_judges_repeated_ones() -> None:
    text = "Rash on both arms last week. No Rash today. Chest pain on exertion."
    found = _entities(
        [
            {"text": "Rash", "type": "PROBLEM", "assertion": "possible"},
            {"text": "Chest pain", "type": "PROBLEM", "assertion": "absent"},
        ],
        text,
    )
    assert [(e.text, e.assertion) for e in found] == [
        ("Rash", None),
        ("Rash", None),
        ("Chest pain", Assertion.ABSENT),
    ]
    annotated = annotate(text, found)
    assert [e.assertion for e in annotated] == [Assertion.PRESENT, Assertion.ABSENT, Assertion.ABSENT]


def test_an_assertion_outside_contexts_categories_is_refused() -> None:
    with pytest.raises(ParseError, match="assertion"):
        parse_answer(
            EntitiesAnswer, json.dumps({"entities": [{"text": "x", "type": "PROBLEM", "assertion": "no"}]})
        )


def test_summary_is_cleaned_and_bounded() -> None:
    assert (
        clean_summary("Chest\x00 pain,\n\nruled   out MI. " + "word " * 500, 6)
        == "Chest pain, ruled out MI. word"
    )


def test_schemas_are_closed_and_narrowed() -> None:
    schema = closed(NerStage().schema(NerSpec.model_validate({"types": ["PROBLEM", "TEST"]})))
    assert schema["$defs"]["EntityType"]["enum"] == ["PROBLEM", "TEST"]
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["EntityItem"]["additionalProperties"] is False
