"""Fetching a parsed Drive item through the registry and the shared pipeline, as add_data does."""

from __future__ import annotations

from mlenv_magics.data.model import AddDataOptions, DataResult
from mlenv_magics.data.pipeline import run_pipeline
from mlenv_magics.data.registry import source_for
from mlenv_magics.data.sources import DriveItem


def acquire_drive(item: DriveItem, options: AddDataOptions) -> DataResult:
    return run_pipeline(source_for(item), options)
