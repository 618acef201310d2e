"""Data sources behind ``%mlenv_add_data``: Kaggle datasets, competitions, models and notebook
outputs, Google Drive.

``acquire()`` parses the SOURCE, finds its source in ``registry.py`` and runs the shared
pipeline (``pipeline.py``: cache, lock, staging, publish, ``--file``, ``--to``,
``--offline``, ``--force``), which returns a :class:`DataResult`. Sources say what exists and
where each file comes from; the transfer and cache layers fetch and store. Nothing here
prints: progress goes through a ``ProgressSink``, notices through a callback.
"""

from __future__ import annotations

from .model import AddDataOptions, DataResult

__all__ = ["AddDataOptions", "DataResult", "acquire"]


def acquire(source: str, options: AddDataOptions) -> DataResult:
    from .pipeline import run_pipeline
    from .registry import source_for
    from .sources import parse_source

    return run_pipeline(source_for(parse_source(source)), options)
