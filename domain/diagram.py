"""A CI subgraph as text for drawing: Graphviz DOT and Mermaid."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

_SHAPES = {
    "Service": "doubleoctagon",
    "Application": "box",
    "Database": "cylinder",
    "Storage": "cylinder",
    "NetworkDevice": "diamond",
    "Document": "note",
    "Laptop": "box3d",
    "Desktop": "box3d",
    "ThinClient": "box3d",
    "MobilePhone": "component",
    "Printer": "tab",
    "Monitor": "trapezium",
    "Hardware": "hexagon",
}


def _safe_id(ci_id: str) -> str:
    return "n" + re.sub(r"[^A-Za-z0-9]", "_", ci_id)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> str:
    lines = ["digraph cmdb {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for n in nodes:
        shape = _SHAPES.get(n["ciClass"], "ellipse")
        label = _quote(f"{n['name']}\\n{n['ciClass']}")
        lines.append(f'  {_safe_id(n["id"])} [label="{label}", shape={shape}];')
    for e in edges:
        lines.append(f'  {_safe_id(e["s"])} -> {_safe_id(e["t"])} [label="{_quote(e["type"])}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(nodes: Sequence[Mapping[str, Any]], edges: Sequence[Mapping[str, Any]]) -> str:
    lines = ["graph LR"]
    for n in nodes:
        text = f"{n['name']} ({n['ciClass']})".replace('"', "#quot;")
        lines.append(f'  {_safe_id(n["id"])}["{text}"]')
    for e in edges:
        lines.append(f"  {_safe_id(e['s'])} -->|{e['type']}| {_safe_id(e['t'])}")
    return "\n".join(lines) + "\n"
