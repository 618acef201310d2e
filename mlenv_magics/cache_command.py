"""``mlenv cache list|du|prune``."""

from __future__ import annotations

import argparse

from .errors import NotAvailableError


def run_cache_command(args: argparse.Namespace) -> int:
    raise NotAvailableError("mlenv cache is not built yet in this version of mlenv_magics.")
