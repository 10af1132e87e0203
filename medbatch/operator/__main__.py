"""The operator process: ``python -m medbatch.operator run --module=medbatch.operator.handlers ...``.

Process-wide things start here, before kopf: the metrics endpoint binds its port once, and a port that
cannot be bound turns metrics off with an error in the log instead of failing kopf's startup handler
(which kopf retries after a minute, holding every Corpus back). The arguments are kopf's own.
"""

from __future__ import annotations

import logging

from kopf.cli import main as kopf_main

from medbatch.operator import metrics
from medbatch.operator.config import OperatorConfig


def main() -> None:
    """Start the metrics endpoint, then run kopf with this process's arguments."""
    logging.basicConfig(level=logging.INFO)
    port = OperatorConfig().metrics_port
    if port:  # 0: metrics off
        metrics.serve(port)
    kopf_main(prog_name="python -m medbatch.operator")


if __name__ == "__main__":
    main()
