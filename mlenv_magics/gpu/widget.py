"""The ipywidgets view of a :class:`GpuReport`: per-device rows with memory bars.

Core widgets only (VBox, HBox, HTML, IntProgress), so it renders with ipywidgets 7.7.1
(Colab) and 8.x (Kaggle, JupyterLab, VS Code). ``refresh`` updates the same widgets in
place, from the foreground, which every frontend shows.
"""

from __future__ import annotations

import html
from typing import Any

from ..render import NA
from .model import GpuDevice

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


class GpuWidgetView:
    def __init__(self, report: Any) -> None:
        import ipywidgets as widgets

        self._widgets = widgets
        self.title = widgets.HTML()
        self.rows = widgets.VBox()
        self.footer = widgets.HTML()
        self.root = widgets.VBox([self.title, self.rows, self.footer])
        self._cells: dict[str, tuple[Any, Any, Any]] = {}
        self.refresh(report)

    def mime_data(self) -> dict[str, Any]:
        own = getattr(self.root, "_repr_mimebundle_", None)
        if own is not None:  # ipywidgets 8
            data = own()
            if isinstance(data, dict) and WIDGET_MIME in data:
                return dict(data[WIDGET_MIME])
        # ipywidgets 7 has no _repr_mimebundle_ on widgets; build the view reference by hand.
        return {"model_id": self.root.model_id, "version_major": 2, "version_minor": 0}

    def refresh(self, report: Any) -> None:
        w = self._widgets
        self.title.value = f"<b>{html.escape(report._headline())}</b>"
        labels = [d.label for d in report.devices]
        if labels != list(self._cells):
            self._cells = {}
            children = []
            for device in report.devices:
                # Fixed columns keep the bars aligned; in a narrow output the details
                # wrap below the bar rather than squeezing the columns.
                name = w.HTML(layout=w.Layout(width="300px", flex="0 0 auto"))
                bar = w.IntProgress(
                    min=0, max=1, value=0, layout=w.Layout(width="220px", flex="0 0 auto")
                )
                detail = w.HTML()
                self._cells[device.label] = (name, bar, detail)
                children.append(w.HBox([name, bar, detail], layout=w.Layout(flex_flow="row wrap")))
            self.rows.children = tuple(children)
        for device in report.devices:
            name, bar, detail = self._cells[device.label]
            _fill_row(device, name, bar, detail)
        self.footer.value = _footer_html(report)

    def close(self) -> None:
        self.root.close()


def _fill_row(device: GpuDevice, name: Any, bar: Any, detail: Any) -> None:
    name.value = f"<code>{html.escape(device.label)}</code> {html.escape(device.name or NA)}"
    total, used = device.memory_total_mib, device.memory_used_mib
    if total and used is not None:
        bar.max = total
        bar.value = min(used, total)
        ratio = used / total
        bar.bar_style = "danger" if ratio > 0.9 else "warning" if ratio > 0.7 else "info"
        bar.layout.visibility = "visible"
    else:
        bar.max, bar.value, bar.bar_style = 1, 0, ""
        bar.layout.visibility = "hidden"
    memory = f"{_mib(used)} / {_mib(total)}"
    util = (
        f"{device.utilization_pct} %"
        if device.utilization_pct is not None
        else f"{NA} (MIG)"
        if (device.gap("utilization_pct") or "").startswith("MIG")
        else NA
    )
    temp = NA if device.temperature_c is None else f"{device.temperature_c} C"
    power = NA if device.power_w is None else f"{device.power_w:.0f} W"
    detail.value = html.escape(f"{memory} · util {util} · {temp} · {power}")


def _mib(value: int | None) -> str:
    return NA if value is None else f"{value} MiB"


def _footer_html(report: Any) -> str:
    blocks = []
    for title, items in report._sections():
        text = "<br>".join(html.escape(item) for item in items)
        blocks.append(f"<b>{html.escape(title)}</b><br>{text}")
    return "<br>".join(blocks)


def build_view(report: Any) -> GpuWidgetView | None:
    """A view when ipywidgets is importable and a comm can be opened; otherwise ``None``."""
    try:
        return GpuWidgetView(report)
    except ImportError:
        return None
    except Exception:  # no kernel comm (terminal, broken frontend): the HTML still shows
        return None
