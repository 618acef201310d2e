"""Every real ``nvidia-smi -q -x`` capture of tests/fixtures/nvidia-smi-corpus, read through the
whole report path (the fake nvidia-smi on PATH replays it), against the values an independent
reader derived from the same XML (``<name>.expected.json``; rules in that folder's README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gpu_kit import FIXTURES

CORPUS = FIXTURES / "nvidia-smi-corpus"
CAPTURES = sorted(CORPUS.glob("*.xml"))
NOT_AVAILABLE_WORDS = ("N/A", "Not Found", "Not Supported", "Unknown", "deprecated", "[")


def _expected(capture: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(capture.with_suffix(".expected.json").read_text())
    return data


def _close(seen: Any, wanted: Any, tolerance: float, what: str) -> None:
    if wanted is None:
        assert seen is None, f"{what}: expected null, got {seen!r}"
        return
    assert isinstance(seen, int | float) and not isinstance(seen, bool), (
        f"{what}: expected {wanted!r}, got {seen!r}"
    )
    assert abs(seen - wanted) <= tolerance, f"{what}: expected {wanted!r}, got {seen!r}"


def test_the_corpus_is_complete() -> None:
    assert len(CAPTURES) == 23
    assert all(c.with_suffix(".expected.json").exists() for c in CAPTURES)
    sources = (CORPUS / "SOURCES.md").read_text()
    assert all(c.name in sources for c in CAPTURES)


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_capture_reads_as_the_independent_reader_says(report_for, capture: Path) -> None:  # type: ignore[no-untyped-def]
    expected = _expected(capture)
    assert expected["capture"] == capture.name
    data = report_for(capture).to_dict()
    assert data["backend"] == "nvidia-smi", data["notes"]
    assert data["driver_version"] == expected["driver_version"]
    assert data["cuda_version"] == expected["cuda_version"]
    gpus = [d for d in data["devices"] if d["mig"] is None]
    assert len(gpus) == len(expected["gpus"])
    for seen, wanted in zip(gpus, expected["gpus"], strict=True):
        where = f"{capture.stem} GPU {wanted['position']}"
        assert seen["index"] == wanted["position"], where
        assert seen["name"] == wanted["name"], where
        assert seen["uuid"] == wanted["uuid"], where
        assert seen["mig_enabled"] == wanted["mig_enabled"], where
        _close(seen["memory_total_mib"], wanted["memory_total_mib"], 1, f"{where} memory total")
        _close(seen["memory_used_mib"], wanted["memory_used_mib"], 1, f"{where} memory used")
        _close(seen["utilization_pct"], wanted["utilization_pct"], 0.5, f"{where} utilization")
        _close(seen["temperature_c"], wanted["temperature_c"], 0.5, f"{where} temperature")
        _close(seen["power_w"], wanted["power_w"], 0.5, f"{where} power")
        slices = [
            d for d in data["devices"] if d["mig"] and d["mig"]["parent_index"] == seen["index"]
        ]
        assert len(slices) == len(wanted["mig_slices"]), where
        for mine, theirs in zip(slices, wanted["mig_slices"], strict=True):
            assert mine["mig"]["gpu_instance_id"] == theirs["gpu_instance_id"], where
            assert mine["mig"]["compute_instance_id"] == theirs["compute_instance_id"], where
            assert mine["uuid"] == theirs["uuid"], where
            _close(mine["memory_total_mib"], theirs["memory_total_mib"], 1, f"{where} slice")
            for field in ("utilization_pct", "temperature_c", "power_w"):
                assert mine[field] in (None, seen[field]), f"{where} slice {field}"


@pytest.mark.parametrize("capture", CAPTURES, ids=[c.stem for c in CAPTURES])
def test_no_not_available_text_reaches_the_report(report_for, capture: Path) -> None:  # type: ignore[no-untyped-def]
    report = report_for(capture)
    data = report.to_dict()
    strings = [data["driver_version"], data["cuda_version"]]
    for device in data["devices"]:
        strings += [device["name"], device["uuid"], device["bus_id"]]
    for value in filter(None, strings):
        assert not any(word in value for word in NOT_AVAILABLE_WORDS), value
    headline = repr(report).splitlines()[0]
    assert not any(word in headline for word in NOT_AVAILABLE_WORDS), headline


def test_k80_cuda_not_found_is_null_and_stays_out_of_the_header(report_for) -> None:  # type: ignore[no-untyped-def]
    report = report_for(CORPUS / "tesla-k80-x4-from-microsoft-pai.xml")
    assert report.cuda_version is None and report.to_dict()["cuda_version"] is None
    text = repr(report) + report.html()
    assert "Not Found" not in text and "CUDA (driver)" not in text
    assert len(report.devices) == 4 and report.devices[3].temperature_c is not None


def test_trimmed_capture_has_nulls_not_zeros(report_for) -> None:  # type: ignore[no-untyped-def]
    [gpu] = report_for(CORPUS / "gt-730-from-microsoft-pai.xml").to_dict()["devices"]
    for field in ("memory_total_mib", "memory_used_mib", "utilization_pct", "temperature_c"):
        assert gpu[field] is None, field
    assert gpu["power_w"] is None
