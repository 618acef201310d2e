"""Where the magics and the CLI send a result: JSON, plain text, or one view refreshed in place.

Each display has ``update(obj)``, called once per refresh by ``--watch``. Only
:class:`NotebookDisplay` touches IPython, and only when it shows something.
"""

from __future__ import annotations

import json
from typing import Any


def print_json(data: Any, *, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, sort_keys=True), flush=True)


class JsonLines:
    """One JSON document per line, per refresh (``--json``)."""

    def update(self, obj: Any) -> None:
        print_json(obj.to_dict(), indent=None)


class TextLines:
    """The text report, printed again on every refresh, a blank line between."""

    def update(self, obj: Any) -> None:
        print(repr(obj), end="\n\n", flush=True)


class NotebookDisplay:
    """Refreshes one output area in place (every frontend, in the foreground)."""

    def __init__(self) -> None:
        self._handle: Any = None

    def update(self, obj: Any) -> None:
        from IPython.display import display

        if self._handle is None:
            self._handle = display(obj, display_id=True)
        else:
            self._handle.update(obj)
