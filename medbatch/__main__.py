"""``python -m medbatch`` is the ``medbatch`` command."""

from medbatch.cli import app

app()
