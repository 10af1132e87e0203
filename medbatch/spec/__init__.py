"""Spec models shared by the operator and the job: the Corpus and ModelProfile custom resources."""

from medbatch.spec.corpus import (
    API_GROUP,
    API_VERSION,
    Corpus,
    CorpusSpec,
    DeidentifySpec,
    DeidStrategy,
    DepartedNotes,
    EntityType,
    LimitsSpec,
    NerSpec,
    OutputSpec,
    PhiType,
    SourceFormat,
    SourceSpec,
    SummarizeSpec,
    TasksSpec,
)
from medbatch.spec.loading import SpecError, load_corpus, load_model_profile, parse_resource
from medbatch.spec.model_profile import EngineKind, ModelProfile, ModelProfileSpec

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "Corpus",
    "CorpusSpec",
    "DeidStrategy",
    "DeidentifySpec",
    "DepartedNotes",
    "EngineKind",
    "EntityType",
    "LimitsSpec",
    "ModelProfile",
    "ModelProfileSpec",
    "NerSpec",
    "OutputSpec",
    "PhiType",
    "SourceFormat",
    "SourceSpec",
    "SpecError",
    "SummarizeSpec",
    "TasksSpec",
    "load_corpus",
    "load_model_profile",
    "parse_resource",
]
