"""Which source module serves which kind of SOURCE.

Adding a source: a parse rule in ``sources.py`` that returns its own type, a module with a
:class:`~mlenv_magics.data.pipeline.Source` subclass (see the interface in ``pipeline.py``),
and one line here. Modules are imported only when their kind of source is asked for.
"""

from __future__ import annotations

import importlib

from ..errors import BadSourceError
from .pipeline import Source
from .sources import DriveItem, KaggleCompetition, KaggleDataset, KaggleModel, KaggleNotebook
from .sources import Source as ParsedSource

SOURCES: dict[type, str] = {
    KaggleDataset: "mlenv_magics.data.kaggle:KaggleSource",
    KaggleCompetition: "mlenv_magics.data.kaggle:KaggleSource",
    DriveItem: "mlenv_magics.data.drive:DriveSource",
    KaggleModel: "mlenv_magics.data.kaggle_models:KaggleModelSource",
    KaggleNotebook: "mlenv_magics.data.kaggle_notebooks:KaggleNotebookSource",
}


def source_for(parsed: ParsedSource) -> Source:
    """The registered source for a parsed SOURCE."""
    where = SOURCES.get(type(parsed))
    if where is None:
        raise BadSourceError(
            f"{parsed.label} cannot be fetched by this version of mlenv-magics.",
            fix="Use a Kaggle dataset, competition, model or notebook, or a Google Drive file or"
            " folder.",
        )
    module_name, _, class_name = where.partition(":")
    factory = getattr(importlib.import_module(module_name), class_name)
    source: Source = factory(parsed)
    return source
