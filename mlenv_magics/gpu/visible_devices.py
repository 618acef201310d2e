"""``CUDA_VISIBLE_DEVICES`` against the devices NVML sees.

NVML ignores the variable and numbers GPUs in PCI bus order; CUDA numbers them
fastest-first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``. UUIDs (``GPU-…``, ``MIG-…``, full or
abbreviated) map exactly; integers map only under ``PCI_BUS_ID`` or with a single GPU.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import GpuDevice

_INTEGER = re.compile(r"^\d+$")


@dataclass(frozen=True)
class VisibleSpec:
    """The parsed variable: ``entries`` is ``None`` when it is unset (everything visible)."""

    entries: tuple[str, ...] | None
    ignored: tuple[str, ...] = ()
    duplicates: bool = False


def parse_visible_devices(value: str | None) -> VisibleSpec:
    """Parse like the CUDA runtime: stop at the first invalid entry; duplicates void the list."""
    if value is None:
        return VisibleSpec(entries=None)
    parts = [part.strip() for part in value.split(",")]
    entries: list[str] = []
    for position, part in enumerate(parts):
        if _INTEGER.match(part) or part.startswith(("GPU-", "MIG-")):
            entries.append(part)
            continue
        ignored = tuple(p for p in parts[position:] if p)
        return VisibleSpec(tuple(entries), ignored, _has_duplicates(entries))
    return VisibleSpec(tuple(entries), (), _has_duplicates(entries))


def _has_duplicates(entries: list[str]) -> bool:
    normalised = [str(int(e)) if _INTEGER.match(e) else e for e in entries]
    return len(set(normalised)) != len(normalised)


@dataclass
class Visibility:
    """The outcome of mapping the variable onto the devices, plus warnings for the user."""

    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _matches(entry: str, device: GpuDevice, parent_uuid: str | None) -> bool:
    if entry.startswith("MIG-GPU-"):
        # Legacy form MIG-GPU-<parent uuid>/<gpu instance>/<compute instance>.
        parts = entry[len("MIG-") :].split("/")
        if device.mig is None or not parent_uuid or len(parts) != 3:
            return False
        return bool(
            parent_uuid.startswith(parts[0])
            and str(device.mig.gpu_instance_id) == parts[1]
            and str(device.mig.compute_instance_id) == parts[2]
        )
    return bool(device.uuid) and (device.uuid or "").startswith(entry)


def apply_visibility(devices: list[GpuDevice], env: Mapping[str, str]) -> Visibility:
    """Mark each device ``cuda_visible``/``cuda_index`` and explain what does not add up."""
    outcome = Visibility()
    spec = parse_visible_devices(env.get("CUDA_VISIBLE_DEVICES"))
    physical = [d for d in devices if d.mig is None]
    if not devices:
        return outcome
    pci_order = env.get("CUDA_DEVICE_ORDER", "").strip().upper() == "PCI_BUS_ID"
    integers_exact = pci_order or len(physical) == 1
    if spec.entries is None:
        cuda_devices = [d for d in devices if not d.mig_enabled]
        for position, device in enumerate(cuda_devices):
            device.cuda_visible = True
            device.cuda_index = position if integers_exact else None
        if not integers_exact and len(cuda_devices) > 1:
            outcome.notes.append(
                "CUDA numbers GPUs fastest-first; set CUDA_DEVICE_ORDER=PCI_BUS_ID so framework"
                " indices match the order shown here."
            )
        return outcome
    for device in devices:
        device.cuda_visible = False
    raw = env.get("CUDA_VISIBLE_DEVICES", "")
    if spec.duplicates:
        outcome.warnings.append(
            f"CUDA_VISIBLE_DEVICES={raw!r} lists a device twice, so CUDA sees no GPU at all."
            " Remove the duplicate."
        )
        return outcome
    if not spec.entries:
        outcome.warnings.append(
            f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU from CUDA frameworks."
            " Unset it (or list GPUs) to use them."
        )
        return outcome
    if spec.ignored:
        outcome.warnings.append(
            f"CUDA_VISIBLE_DEVICES: CUDA stops reading at {spec.ignored[0]!r}, so"
            f" {', '.join(spec.ignored)} {'is' if len(spec.ignored) == 1 else 'are'} ignored."
        )
    unknown: list[str] = []
    for cuda_index, entry in enumerate(spec.entries):
        if _INTEGER.match(entry):
            number = int(entry)
            candidates = [d for d in devices if d.mig is None and not d.mig_enabled]
            if number >= len(physical):
                unknown.append(entry)
                continue
            if not integers_exact:
                outcome.notes.append(
                    f"CUDA_VISIBLE_DEVICES entry {entry} counts fastest-first, which may differ"
                    " from the order shown; use UUIDs or CUDA_DEVICE_ORDER=PCI_BUS_ID."
                )
            target = physical[number]
            if target.mig_enabled or target not in candidates:
                outcome.warnings.append(
                    f"CUDA_VISIBLE_DEVICES entry {entry} is a MIG-enabled GPU; CUDA needs a MIG"
                    " slice UUID (MIG-…) instead."
                )
                continue
            target.cuda_visible = True
            target.cuda_index = cuda_index if integers_exact else None
            continue
        parents = {d.index: d.uuid for d in physical}
        matches = [d for d in devices if _matches(entry, d, parents.get(d.index))]
        if not matches:
            unknown.append(entry)
            continue
        matches[0].cuda_visible = True
        matches[0].cuda_index = cuda_index
    if unknown:
        outcome.warnings.append(
            f"CUDA_VISIBLE_DEVICES names devices that do not exist here: {', '.join(unknown)}."
        )
    if not any(d.cuda_visible for d in devices):
        outcome.warnings.append(
            f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU from CUDA frameworks."
            " Unset it (or list GPUs that exist) to use them."
        )
    return outcome
