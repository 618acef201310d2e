"""CUDA_VISIBLE_DEVICES against the devices NVML (PCI order) sees."""

from __future__ import annotations

import pytest

from mlenv_magics.gpu.model import GpuDevice, MigSlice
from mlenv_magics.gpu.visible_devices import apply_visibility, parse_visible_devices

A = "GPU-8932f937-1111-2222-3333-444444444444"
B = "GPU-1d2c3b4a-5555-6666-7777-888888888888"


def two_gpus() -> list[GpuDevice]:
    return [GpuDevice(index=0, name="T4", uuid=A), GpuDevice(index=1, name="T4", uuid=B)]


@pytest.mark.parametrize(
    ("value", "entries", "ignored"),
    [
        ("0,2,-1,1", ("0", "2"), ("-1", "1")),
        ("", (), ()),
        ("-1", (), ("-1",)),
        ("GPU-8932f937,1", ("GPU-8932f937", "1"), ()),
        ("MIG-GPU-8932f937/1/0", ("MIG-GPU-8932f937/1/0",), ()),
    ],
)
def test_parsing_stops_at_the_first_invalid_entry(value, entries, ignored) -> None:  # type: ignore[no-untyped-def]
    spec = parse_visible_devices(value)
    assert spec.entries == entries and spec.ignored == ignored


def test_unset_means_everything_visible() -> None:
    devices = two_gpus()
    outcome = apply_visibility(devices, {})
    assert [d.cuda_visible for d in devices] == [True, True]
    assert [d.cuda_index for d in devices] == [None, None]  # fastest-first order is unknown
    assert any("PCI_BUS_ID" in n for n in outcome.notes)


def test_pci_bus_order_makes_integer_indices_exact() -> None:
    devices = two_gpus()
    apply_visibility(devices, {"CUDA_DEVICE_ORDER": "PCI_BUS_ID", "CUDA_VISIBLE_DEVICES": "1"})
    assert [d.cuda_visible for d in devices] == [False, True]
    assert devices[1].cuda_index == 0


def test_abbreviated_uuid_maps_exactly_in_any_order() -> None:
    devices = two_gpus()
    outcome = apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": "GPU-1d2c,GPU-8932f937"})
    assert [(d.cuda_visible, d.cuda_index) for d in devices] == [(True, 1), (True, 0)]
    assert outcome.warnings == []


@pytest.mark.parametrize("value", ["", "-1", "0,0"])
def test_hiding_every_gpu_warns(value: str) -> None:
    devices = two_gpus()
    outcome = apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": value})
    assert not any(d.cuda_visible for d in devices)
    assert any("CUDA sees no GPU" in w or "hides every GPU" in w for w in outcome.warnings)


def test_devices_that_do_not_exist_are_named() -> None:
    devices = two_gpus()
    outcome = apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": "0,5,GPU-deadbeef"})
    assert devices[0].cuda_visible and not devices[1].cuda_visible
    assert any("do not exist here: 5, GPU-deadbeef" in w for w in outcome.warnings)


def test_mig_slice_uuids_and_legacy_form() -> None:
    parent = GpuDevice(index=0, uuid=A, mig_enabled=True)
    first = GpuDevice(index=0, uuid="MIG-aaaa1111-0000", mig=MigSlice(0, 0, 3, 0))
    second = GpuDevice(index=0, uuid="MIG-bbbb2222-0000", mig=MigSlice(0, 1, 4, 0))
    devices = [parent, first, second]
    apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": "MIG-bbbb2222"})
    assert [d.cuda_visible for d in devices] == [False, False, True]
    apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": f"MIG-{A[:12]}/3/0"})
    assert [d.cuda_visible for d in devices] == [False, True, False]
    outcome = apply_visibility(devices, {"CUDA_VISIBLE_DEVICES": "0"})
    assert any("MIG-enabled" in w for w in outcome.warnings)
