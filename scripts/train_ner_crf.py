"""Train the CPU NER model (``medbatch/notes/tasks/ner/data/ner-crf.crfsuite``).

A linear-chain CRF (CRFsuite, L-BFGS with L1 and L2 regularization) over the features of
``medbatch.notes.tasks.ner.features``, trained on the training split of the BioCreative V CDR corpus
(Li et al., 2016: PubMed titles and abstracts, every Disease and Chemical mention annotated), Disease as
PROBLEM and Chemical as MEDICATION. Nothing else is trained on: no clinical note, no development split.

    python scripts/train_ner_crf.py ../shared/data/ner-dev/bc5cdr-train

The folder holds ``notes.jsonl`` (``{"id", "text"}``) and ``gold.jsonl`` (``{"id", "entities": [{"start",
"end", "type"}]}``), as the corpus is redistributed in IOB form in cambridgeltl/MTL-Bioinformatics-2016
(``data/BC5CDR-IOB/train.tsv``, tokens joined by single spaces).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pycrfsuite

from medbatch.notes.tasks.ner.features import token_features
from medbatch.notes.tasks.ner.tagger import MODEL_PATH, sequences
from medbatch.notes.tasks.ner.tokens import tokenize

TYPES = {"Disease": "PROBLEM", "Chemical": "MEDICATION"}
# Regularization as CRFsuite's documentation and most CRF NER baselines set it; not searched on any split.
PARAMS = {"c1": 0.1, "c2": 0.01, "max_iterations": 150, "feature.possible_transitions": True}


def _labels(text: str, entities: list[dict[str, object]]) -> tuple[list[str], list[str]]:
    tokens = tokenize(text)
    labels = ["O"] * len(tokens)
    for entity in entities:
        start, end, kind = int(str(entity["start"])), int(str(entity["end"])), TYPES[str(entity["type"])]
        inside = [i for i, t in enumerate(tokens) if t.start < end and t.end > start]
        for n, i in enumerate(inside):
            labels[i] = f"{'B' if n == 0 else 'I'}-{kind}"
    return [t.text for t in tokens], labels


def main(folder: Path) -> None:
    notes = {r["id"]: r["text"] for r in map(json.loads, (folder / "notes.jsonl").open())}
    trainer = pycrfsuite.Trainer(verbose=False)
    count = 0
    for record in map(json.loads, (folder / "gold.jsonl").open()):
        text = notes[record["id"]]
        for piece_start, piece in sequences(text):
            entities = [
                {**e, "start": e["start"] - piece_start, "end": e["end"] - piece_start}
                for e in record["entities"]
                if e["start"] >= piece_start and e["end"] <= piece_start + len(piece)
            ]
            _words, labels = _labels(piece, entities)
            trainer.append(token_features(tokenize(piece)), labels)
            count += 1
    trainer.set_params(PARAMS)
    trainer.train(str(MODEL_PATH))
    print(f"trained on {count} sequences; wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size} bytes)")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
