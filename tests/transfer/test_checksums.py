"""CRC-32C: the native and pure-Python paths agree, and per-piece values combine exactly."""

from __future__ import annotations

import itertools
import random

import pytest

from mlenv_magics.checksums import crc32c, crc32c_combine, crc32c_pure, crc32c_to_b64

# The CRC-32C check value (RFC 3720, appendix B.4).
CHECK_INPUT, CHECK_VALUE = b"123456789", 0xE3069283


def test_known_check_value_both_paths() -> None:
    assert crc32c(CHECK_INPUT) == CHECK_VALUE
    assert crc32c_pure(CHECK_INPUT) == CHECK_VALUE
    assert crc32c_to_b64(CHECK_VALUE) == "4waSgw=="


@pytest.mark.parametrize("seed", range(8))
def test_combine_matches_direct_computation_on_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(0, 5000))
    cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(1, 6)))
    cuts += [cuts[0], len(data)]  # an empty piece, and one at the end
    bounds = [0, *sorted(cuts)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    assert b"".join(pieces) == data and any(not piece for piece in pieces)
    combined = 0
    for piece in pieces:
        combined = crc32c_combine(combined, crc32c(piece), len(piece))
    assert combined == crc32c(data)


def test_combine_with_empty_sides_and_long_lengths() -> None:
    data = b"abc" * 1000
    assert crc32c_combine(crc32c(data), crc32c(b""), 0) == crc32c(data)
    assert crc32c_combine(crc32c(b""), crc32c(data), len(data)) == crc32c(data)
    zeros = bytes(3 << 20)  # lengths beyond one table step
    assert crc32c_combine(crc32c(data), crc32c(zeros), len(zeros)) == crc32c(data + zeros)


def test_combine_detects_a_changed_piece() -> None:
    left, right = b"x" * 100, b"y" * 100
    wrong = crc32c_combine(crc32c(left), crc32c(b"y" * 99 + b"z"), len(right))
    assert wrong != crc32c(left + right)
