"""The Grafana dashboard the chart ships (``charts/medbatch/files/grafana/medbatch.json``), written from
this one list of panels so that the tests query exactly the PromQL the dashboard shows.

Templated by namespace and Corpus. The operator's per-Corpus series carry ``namespace`` and ``corpus``;
the job's own series come through Ray's metrics export (``ray_`` prefix) and carry ``corpus``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CORPUS = 'namespace=~"$namespace", corpus=~"$corpus"'
JOB = 'corpus=~"$corpus"'
PROMPT = "ray_medbatch_replica_prompt_tokens_total"


@dataclass(frozen=True)
class Panel:
    """One panel: a title, what it means (shown as its description), its queries and how to draw them."""

    title: str
    description: str
    queries: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"


PANELS: tuple[Panel, ...] = (
    Panel(
        "Notes done, failed and remaining",
        "This run's records by state, from the Corpus status (the operator polls the job's progress file).",
        (
            (f'medbatch_corpus_records{{{CORPUS}, state=~"done|failed"}}', "{{corpus}} {{state}}"),
            (
                f'medbatch_corpus_records{{{CORPUS}, state="total"}} - ignoring(state) '
                f'medbatch_corpus_records{{{CORPUS}, state="done"}}',
                "{{corpus}} remaining",
            ),
        ),
    ),
    Panel(
        "Throughput (notes/s)",
        "Notes per second: the Corpus's pace over five minutes, and the job's own count of records.",
        (
            (f"medbatch_corpus_notes_per_second{{{CORPUS}}}", "{{corpus}} (status)"),
            (
                f"sum by (corpus) (rate(ray_medbatch_records_total{{{JOB}}}[$__rate_interval]))",
                "{{corpus}} (job)",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "Tokens per second",
        "Model tokens in (prompt) and out (generated) per second.",
        (
            (
                f'sum by (corpus, direction) (rate(ray_medbatch_tokens_total{{{JOB}, direction=~"in|out"}}'
                "[$__rate_interval]))",
                "{{corpus}} {{direction}}",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "Engine occupancy per replica",
        "Mean running requests / engine capacity of each replica over its last shard (Ray's WorkerId tells "
        "replicas apart), and of the whole run. Low: the GPUs wait for work.",
        (
            (f"ray_medbatch_replica_occupancy{{{JOB}}}", "{{corpus}} {{WorkerId}}"),
            (f"max by (corpus) (ray_medbatch_engine_occupancy{{{JOB}}})", "{{corpus}} (run)"),
        ),
        unit="percentunit",
    ),
    Panel(
        "Prefix-cache hit rate per replica",
        "Share of each replica's prompt tokens served from vLLM's prefix cache (a note's prefix is shared by "
        "its tasks); 0 for an engine without one.",
        (
            (
                f'(sum by (corpus, WorkerId) (rate({PROMPT}{{{JOB}, source="cached"}}[$__rate_interval])) '
                f"or sum by (corpus, WorkerId) (rate({PROMPT}{{{JOB}}}[$__rate_interval])) * 0) "
                f"/ sum by (corpus, WorkerId) (rate({PROMPT}{{{JOB}}}[$__rate_interval]))",
                "{{corpus}} {{WorkerId}}",
            ),
        ),
        unit="percentunit",
    ),
    Panel(
        "PHI found by type",
        "PHI spans removed in the dashboard's time range, by type (counts, never values).",
        ((f"sum by (type) (increase(ray_medbatch_phi_found_total{{{JOB}}}[$__range]))", "{{type}}"),),
        kind="barchart",
    ),
    Panel(
        "Records by outcome",
        "Records per second that succeeded or got an error row; the manifest's top_errors says which errors.",
        (
            (
                f"sum by (corpus, outcome) (rate(ray_medbatch_records_total{{{JOB}}}[$__rate_interval]))",
                "{{corpus}} {{outcome}}",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "Errors by kind",
        "Error rows per second by kind: the failing step (deidentify, ner, summarize) or what failed (a "
        "record without usable text, an unreadable file, the engine). The rows' error column has the rest.",
        (
            (
                f"sum by (corpus, kind) (rate(ray_medbatch_record_errors_total{{{JOB}}}[$__rate_interval]))",
                "{{corpus}} {{kind}}",
            ),
        ),
        unit="ops",
    ),
    Panel(
        "ETA",
        "Time left at the pace of the last five minutes.",
        ((f"medbatch_corpus_eta_seconds{{{CORPUS}}}", "{{corpus}}"),),
        unit="s",
        kind="stat",
    ),
    Panel(
        "GPU-hours",
        "GPU time of the run: GPUs per replica x replicas x the wall time the engines held them.",
        ((f"medbatch_corpus_gpu_seconds{{{CORPUS}}} / 3600", "{{corpus}}"),),
        kind="stat",
    ),
    Panel(
        "Shards committed",
        "Shard parts the job committed (each a Parquet part of the output).",
        ((f"sum by (corpus) (ray_medbatch_shards_committed_total{{{JOB}}})", "{{corpus}}"),),
    ),
    Panel(
        "Operator: launches, phase transitions, problems",
        "What the operator did in the time range: jobs started, phases entered, launch problems by reason.",
        (
            (
                "sum by (runner) (increase(medbatch_operator_launches_total[$__range]))",
                "launched ({{runner}})",
            ),
            (
                "sum by (phase) (increase(medbatch_operator_phase_transitions_total[$__range]))",
                "to {{phase}}",
            ),
            ("sum by (reason) (increase(medbatch_operator_launch_problems_total[$__range]))", "{{reason}}"),
        ),
        kind="barchart",
    ),
)


def dashboard() -> dict[str, Any]:
    """The dashboard as Grafana's JSON model (importable by hand, or provisioned by the sidecar)."""
    panels = []
    for number, panel in enumerate(PANELS):
        panels.append(
            {
                "id": number + 1,
                "type": panel.kind,
                "title": panel.title,
                "description": panel.description,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"x": (number % 2) * 12, "y": (number // 2) * 8, "w": 12, "h": 8},
                "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
                "targets": [
                    {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                    for i, (expr, legend) in enumerate(panel.queries)
                ],
            }
        )

    def variable(name: str, query: str) -> dict[str, Any]:
        return {
            "name": name,
            "type": "query",
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "query": {"query": query, "refId": name},
            "includeAll": True,
            "multi": True,
            "allValue": ".*",
            "refresh": 2,
        }

    return {
        "title": "medbatch",
        "uid": "medbatch",
        "tags": ["medbatch", "ray"],
        "timezone": "utc",
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus"},
                variable("namespace", "label_values(medbatch_corpus_phase, namespace)"),
                variable("corpus", 'label_values(medbatch_corpus_phase{namespace=~"$namespace"}, corpus)'),
            ]
        },
        "panels": panels,
    }
