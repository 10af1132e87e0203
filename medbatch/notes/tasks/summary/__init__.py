"""Summaries: the CPU's extractive summary (``extractive``), the check of a model's summary against its
note (``check``), and the stage that runs them (``stage``)."""
