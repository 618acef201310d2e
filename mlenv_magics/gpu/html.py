"""HTML of the GPU view with inline styles only (no ``<style>``, no scripts).

The same fragments make the static ``text/html`` (nbconvert, GitHub, saved notebooks) and the
values of the widget view's HTML widgets, so both show one hierarchy: status line, one card
per device (MIG slices inside their GPU), processes, then the fix as numbered steps.
Colours fall back from JupyterLab's theme variables to fixed ones outside it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .guidance import Guidance, segments
from .present import Card, Meter, Status

FONT = "var(--jp-ui-font-family,system-ui,-apple-system,'Segoe UI',sans-serif)"
MONO = "var(--jp-code-font-family,ui-monospace,SFMono-Regular,Menlo,monospace)"
FG = "var(--jp-ui-font-color1,#1f2328)"
MUTED = "var(--jp-ui-font-color2,#59636e)"
BORDER = "var(--jp-border-color2,#d1d9e0)"
TRACK = "var(--jp-border-color3,#e6e9ed)"
SURFACE = "var(--jp-layout-color1,#ffffff)"
SOFT = "var(--jp-layout-color2,#f6f8fa)"
TONES = {"ok": "#1a7f37", "warn": "#9a6700", "missing": "#cf222e", "live": "#0969da"}
FILLS = {"memory": "#2f81f7", "util": "#8250df", "power": "#bf8700"}
HOT = "#cf222e"
SPARK_W, SPARK_H = 120, 22


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def rich(text: str) -> str:
    """Marked-up guidance text: ``[[menu path]]`` set off, ```code``` in code style."""
    out = []
    for kind, value in segments(text):
        if kind == "menu":
            out.append(
                f'<span style="font-weight:600;white-space:nowrap;padding:0 5px;'
                f'border:1px solid {BORDER};border-radius:4px;background:{SOFT}">'
                f"{esc(value)}</span>"
            )
        elif kind == "code":
            out.append(
                f'<code style="font-family:{MONO};font-size:12px;padding:0 4px;'
                f'border-radius:3px;background:{SOFT}">{esc(value)}</code>'
            )
        else:
            out.append(esc(value))
    return "".join(out)


def container(inner: str) -> str:
    return (
        f'<div class="mlenv-gpu" style="font-family:{FONT};font-size:13px;line-height:1.45;'
        f'color:{FG};max-width:760px">{inner}</div>'
    )


def header(status: Status, live: str | None = None) -> str:
    tone = TONES.get(status.kind, TONES["ok"])
    live_html = ""
    if live:
        live_html = (
            f'<span data-mlenv="live" style="margin-left:10px;font-size:12px;color:{MUTED};'
            f'font-weight:400">{esc(live)}</span>'
        )
    why = "".join(
        f'<div data-mlenv="why" style="color:{MUTED};font-size:12px;margin-left:18px">'
        f"{esc(reason)}</div>"
        for reason in status.why
    )
    return (
        f'<div style="color:{MUTED};font-size:11px;letter-spacing:.02em">{esc(status.context)}'
        f"{live_html}</div>"
        f'<div data-mlenv="status" data-kind="{esc(status.kind)}" style="font-size:15px;'
        f'font-weight:600;margin:2px 0 6px 0"><span style="color:{tone}">●</span> '
        f"{esc(status.headline)}</div>{why}"
    )


def bar(meter: Meter, kind: str, width: int = 150) -> str:
    percent = meter.percent
    if percent is None:
        return f'<div style="width:{width}px"></div>'
    fill = HOT if percent >= 90 and kind != "util" else FILLS[kind]
    return (
        f'<div data-mlenv-meter="{kind}" data-fill="{percent:g}" style="width:{width}px;'
        f'height:8px;border-radius:4px;background:{TRACK};overflow:hidden">'
        f'<div style="width:{percent:g}%;height:100%;background:{fill};border-radius:4px">'
        f"</div></div>"
    )


def sparkline(values: Sequence[float | None], top: float | None, kind: str) -> str:
    """An inline SVG line of ``values`` (``None`` leaves a gap) scaled to ``0..top``."""
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2 or not top:
        return ""
    step = SPARK_W / max(len(values) - 1, 1)

    def xy(i: int, v: float) -> str:
        y = SPARK_H - 1 - (SPARK_H - 2) * max(0.0, min(1.0, v / top))
        return f"{i * step:.1f},{y:.1f}"

    line = " ".join(xy(i, v) for i, v in points)
    first, last = points[0][0] * step, points[-1][0] * step
    area = f"{first:.1f},{SPARK_H} {line} {last:.1f},{SPARK_H}"
    colour = FILLS[kind]
    end_x, end_y = xy(*points[-1]).split(",")
    return (
        f'<svg data-mlenv-spark="{kind}" data-points="{esc(line)}" width="{SPARK_W}"'
        f' height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}" style="vertical-align:middle">'
        f'<polygon points="{area}" fill="{colour}" fill-opacity="0.15" stroke="none"/>'
        f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="1.5"'
        f' stroke-linejoin="round"/>'
        f'<circle cx="{end_x}" cy="{end_y}" r="2" fill="{colour}"/></svg>'
    )


_CELL = "padding:1px 10px 1px 0;text-align:left;vertical-align:middle;border:none;font-size:13px"


def _metric_row(label: str, meter: Meter, kind: str, spark: str = "") -> str:
    return (
        f'<tr style="background:transparent;border:none">'
        f'<td style="{_CELL};color:{MUTED};width:58px;font-size:12px">{esc(label)}</td>'
        f'<td style="{_CELL}">{bar(meter, kind)}</td>'
        f'<td data-mlenv-value="{kind}" style="{_CELL};white-space:nowrap;'
        f'font-variant-numeric:tabular-nums">{esc(meter.text)}</td>'
        f'<td style="{_CELL}">{spark}</td></tr>'
    )


def _badge(text: str) -> str:
    return (
        f'<span style="font-size:11px;color:{MUTED};border:1px solid {BORDER};'
        f'border-radius:10px;padding:0 7px;margin-left:6px;white-space:nowrap">{esc(text)}</span>'
    )


def card_html(
    card: Card,
    sparks: dict[str, dict[str, str]] | None = None,
    extra: Sequence[str] = (),
) -> str:
    """One device card; ``sparks[label][kind]`` are sparklines, ``extra`` lines at its foot."""
    sparks = sparks or {}
    own = sparks.get(card.label, {})
    badges = "".join(_badge(b) for b in card.badges)
    rows = _metric_row("memory", card.memory, "memory", own.get("memory", ""))
    if card.utilization.fraction is not None or not card.slices:
        rows += _metric_row("util", card.utilization, "util", own.get("util", ""))
    rows += _metric_row("power", card.power, "power", own.get("power", ""))
    table = f'<table style="border-collapse:collapse;margin:4px 0 0 0;border:none">{rows}</table>'
    foot = [f"temp {card.temperature}"]
    if card.utilization.fraction is None and card.slices:
        foot.append(f"util {card.utilization.text}")
    foot += list(extra)
    slices = "".join(_slice_row(s, sparks) for s in card.slices)
    processes = "".join(
        f'<div style="font-size:12px;{"font-weight:600;" if own else f"color:{MUTED};"}'
        f'margin-left:2px">{"▸ " if own else ""}{esc(text)}</div>'
        for text, own in card.processes
    )
    if slices:
        slices = (
            f'<table style="border-collapse:collapse;margin:6px 0 0 0;border:none">{slices}</table>'
        )
    dim = "" if card.usable or card.slices else "opacity:.6;"
    return (
        f'<div data-mlenv-card="{esc(card.label)}" style="{dim}border:1px solid {BORDER};'
        f'border-radius:8px;padding:8px 12px;margin:6px 0;background:{SURFACE}">'
        f'<div><span style="color:{MUTED};font-size:12px">{esc(card.title)}</span> '
        f'<span style="font-weight:600">{esc(card.name)}</span>{badges}</div>'
        f"{table}{slices}"
        f'<div style="color:{MUTED};font-size:12px;margin-top:2px">'
        f"{' · '.join(esc(x) for x in foot)}</div>{processes}</div>"
    )


def _slice_row(card: Card, sparks: dict[str, dict[str, str]]) -> str:
    spark = sparks.get(card.label, {}).get("memory", "")
    return (
        f'<tr data-mlenv-card="{esc(card.label)}" style="background:transparent;border:none">'
        f'<td style="{_CELL};color:{MUTED};font-size:12px;white-space:nowrap">'
        f"{esc(card.title)}</td>"
        f'<td style="{_CELL};white-space:nowrap">{esc(card.name)}</td>'
        f'<td style="{_CELL}">{bar(card.memory, "memory", 110)}</td>'
        f'<td data-mlenv-value="memory" style="{_CELL};white-space:nowrap;'
        f'font-variant-numeric:tabular-nums">{esc(card.memory.text)}</td>'
        f'<td style="{_CELL}">{spark}</td></tr>'
    )


def section(title: str, items: Sequence[str], tone: str | None = None) -> str:
    colour = TONES.get(tone or "", FG)
    body = "".join(f"<li>{esc(item)}</li>" for item in items)
    return (
        f'<div style="margin-top:8px"><div style="font-weight:600;font-size:12px;'
        f'color:{colour}">{esc(title)}</div>'
        f'<ul style="margin:2px 0 0 0;padding-left:18px">{body}</ul></div>'
    )


def steps(guide: Guidance, extra: Sequence[str] = ()) -> str:
    items = "".join(f'<li style="margin:2px 0">{rich(step)}</li>' for step in guide.steps)
    facts = "".join(
        f'<div style="color:{MUTED};font-size:12px;margin-top:2px">{rich(fact)}</div>'
        for fact in (*guide.facts, *extra)
    )
    return (
        f'<div data-mlenv="steps" style="margin-top:8px;padding:8px 12px;border-radius:8px;'
        f'border:1px solid {BORDER};background:{SOFT}">'
        f'<div style="font-weight:600">{esc(guide.title)}</div>'
        f'<ol style="margin:4px 0 0 0;padding-left:22px">{items}</ol>{facts}</div>'
    )
