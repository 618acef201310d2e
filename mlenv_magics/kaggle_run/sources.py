"""``--data`` for a remote run: the sources ``%mlenv_add_data`` understands, as the four
lists ``SaveKernel`` attaches (datasets, competitions, notebooks, models)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .errors import RemoteOptionError


@dataclass
class AttachedSources:
    datasets: list[str] = field(default_factory=list)
    competitions: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def attached_sources(values: Iterable[str]) -> AttachedSources:
    from ..data.sources import (
        KaggleCompetition,
        KaggleDataset,
        KaggleModel,
        KaggleNotebook,
        parse_source,
    )

    result = AttachedSources()
    for value in values:
        source = parse_source(value)
        if isinstance(source, KaggleDataset):
            result.datasets.append(source.ref)
            if source.version is not None:
                result.notes.append(
                    f"{value}: Kaggle attaches the latest version of a dataset to a run;"
                    f" version {source.version} is not pinned there."
                )
        elif isinstance(source, KaggleCompetition):
            result.competitions.append(source.slug)
        elif isinstance(source, KaggleModel):
            # owner/model/framework/variation/N; without N, the latest version is attached
            suffix = f"/{source.version}" if source.version is not None else ""
            result.models.append(source.ref + suffix)
        elif isinstance(source, KaggleNotebook):
            result.notebooks.append(source.ref)
        else:
            raise RemoteOptionError(
                f"--data {value}: only Kaggle datasets, competitions, models and notebooks can be"
                " attached to a run on Kaggle.",
                fix="Add the files to a private Kaggle dataset and attach that instead.",
            )
    return result
