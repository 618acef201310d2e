"""The ipywidgets view of a :class:`GpuReport`: the status line, one card per device, the rest.

Core widgets only (a VBox of HTML widgets whose values are the inline-styled fragments of
``gpu/html.py``), so it renders with ipywidgets 7.7.1 (Colab) and 8.x (Kaggle, JupyterLab,
VS Code) and needs no frontend extension; sparklines are inline SVG inside those values.
``refresh`` sends only the fragments that changed, so a refresh is one small comm message per
changed card, from whichever thread calls it.
"""

from __future__ import annotations

from typing import Any

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class GpuWidgetView:
    def __init__(self, report: Any) -> None:
        import ipywidgets as widgets

        self._widgets = widgets
        self.header = widgets.HTML()
        self.cards = widgets.VBox()
        self.footer = widgets.HTML()
        self.root = widgets.VBox([self.header, self.cards, self.footer])
        self.root.add_class("mlenv-gpu-view")
        self.refresh(report)

    def mime_data(self) -> dict[str, Any]:
        own = getattr(self.root, "_repr_mimebundle_", None)
        if own is not None:  # ipywidgets 8
            data = own()
            if isinstance(data, dict) and WIDGET_MIME in data:
                return dict(data[WIDGET_MIME])
        # ipywidgets 7 has no _repr_mimebundle_ on widgets; build the view reference by hand.
        return {"model_id": self.root.model_id, "version_major": 2, "version_minor": 0}

    def refresh(
        self,
        report: Any,
        sparks: dict[str, dict[str, str]] | None = None,
        live: str | None = None,
        extra: dict[str, list[str]] | None = None,
    ) -> None:
        head, cards, foot = report.html_parts(sparks, live, extra)
        _set(self.header, _wrap(head))
        children = list(self.cards.children)
        if len(children) != len(cards):
            children = [self._widgets.HTML() for _ in cards]
            for widget, fragment in zip(children, cards, strict=True):
                widget.value = _wrap(fragment)
            self.cards.children = tuple(children)
        else:
            for widget, fragment in zip(children, cards, strict=True):
                _set(widget, _wrap(fragment))
        _set(self.footer, _wrap(foot) if foot else "")

    def close(self) -> None:
        for child in self.cards.children:
            child.close()
        self.header.close()
        self.footer.close()
        self.cards.close()
        self.root.close()


def _wrap(fragment: str) -> str:
    from .html import container

    return container(fragment)


def _set(widget: Any, value: str) -> None:
    if widget.value != value:
        widget.value = value


def build_view(report: Any) -> GpuWidgetView | None:
    """A view when ipywidgets is importable and a comm can be opened; otherwise ``None``."""
    try:
        return GpuWidgetView(report)
    except ImportError:
        return None
    except Exception:  # no kernel comm (terminal, broken frontend): the HTML still shows
        return None
