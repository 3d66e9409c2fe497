"""Renderers of an :class:`explain.Explanation`: plain text, rich table, Mermaid, Graphviz DOT, JSON.

The graph formats share one node/edge list (:func:`graph`):
consumers -> SecretReferences -> ExternalSecrets -> planes (with their store).
Node ids are short and generated (``c1``, ``s1``, ``e1``, ``p1``), so no
input text ever becomes graph syntax; labels are escaped per format.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .explain import Explanation, ExternalSecretView, PlaneDiff, diff_to_dict, to_dict
from .inventory import Store

TITLES = ("Plane", "Store", "ExternalSecret", "SecretReference", "Remote keys", "Consumers")
COLUMNS = tuple(t.upper() for t in TITLES)


def _store(store: Store | None) -> str:
    return f"{store.kind}/{store.name}" if store is not None else "(none)"


def _cells(es: ExternalSecretView) -> tuple[list[str], list[str], list[str]]:
    """(secret references, remote keys, consumers) of one row, deduplicated, in order."""
    keys = list(dict.fromkeys(d.label for d in es.data))
    return es.secretReferences, keys, [c.label for c in es.consumers]


def _rows(expl: Explanation) -> list[tuple[str, ...]]:
    rows = []
    for es in expl.external_secrets:
        refs, keys, consumers = _cells(es)
        rows.append((es.plane, _store(es.store), es.label, ", ".join(refs), ", ".join(keys), ", ".join(consumers)))
    return rows


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]]


def _sections(expl: Explanation) -> list[tuple[str, list[str]]]:
    return [
        ("Unused SecretReferences", expl.unusedSecretReferences),
        ("Planes without consumers", expl.planes_without_consumers),
        ("Problems", [r.line() for r in expl.problems]),
    ]


def text(expl: Explanation) -> str:
    """Plain text for pipes: one table row per ExternalSecret (plane and store on every row), then lists."""
    rows = _rows(expl)
    lines = _table(COLUMNS, rows) if rows else ["No ExternalSecrets would be generated."]
    for title, entries in _sections(expl):
        lines.append("")
        lines.append(f"{title}: {len(entries)}" if entries else f"{title}: none")
        lines.extend(f"  {e}" for e in entries)
    return "\n".join(lines) + "\n"


def rich_table(expl: Explanation, console) -> None:
    """The same content for a terminal: a table grouped by plane, then the lists."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Secret fan-out", show_lines=False)
    for title in TITLES:
        table.add_column(title, overflow="fold")
    for plane in expl.planes:
        for i, es in enumerate(plane.externalSecrets):
            refs, keys, consumers = _cells(es)
            first = i == 0
            # Text, not str: rich reads "[...]" in a str as markup, and names and remote keys are free text
            table.add_row(Text(plane.id, style="bold") if first else "", Text(_store(plane.store) if first else ""),
                          Text(es.label), Text("\n".join(refs)), Text("\n".join(keys)), Text("\n".join(consumers)),
                          end_section=i == len(plane.externalSecrets) - 1)
    if expl.external_secrets:
        console.print(table)
    else:
        console.print("No ExternalSecrets would be generated.")
    styles = {"error": "bold red", "warning": "yellow", "info": "cyan"}
    for title, entries in _sections(expl):
        console.print()
        console.print(Text(f"{title}: {len(entries) if entries else 'none'}", style="bold"))
        for entry, problem in zip(entries, expl.problems if title == "Problems" else [None] * len(entries)):
            style = styles.get(problem.severity, "") if problem is not None else ""
            console.print(Text(f"  {entry}", style=style))


def json_text(expl: Explanation) -> str:
    return json.dumps(to_dict(expl), indent=2) + "\n"


# --- graphs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    id: str
    role: str  # consumer | secretReference | externalSecret | plane
    lines: tuple[str, ...]


def graph(expl: Explanation) -> tuple[list[Node], list[tuple[str, str]]]:
    """Nodes (consumers, SecretReferences, ExternalSecrets, planes) and edges, in a stable order."""
    nodes: dict[tuple[str, str], Node] = {}
    edges: dict[tuple[str, str], None] = {}
    prefixes = {"consumer": "c", "secretReference": "s", "externalSecret": "e", "plane": "p"}
    counts = dict.fromkeys(prefixes, 0)

    def node(role: str, key: str, *lines: str) -> str:
        if (role, key) not in nodes:
            counts[role] += 1
            nodes[(role, key)] = Node(f"{prefixes[role]}{counts[role]}", role, lines)
        return nodes[(role, key)].id

    for plane in expl.planes:
        if plane.externalSecrets:
            node("plane", plane.id, f"{plane.kind} {plane.namespace + '/' if plane.namespace else ''}{plane.name}",
                 f"store {_store(plane.store)}")
    for es in expl.external_secrets:
        es_id = node("externalSecret", f"{es.plane} {es.label}", f"ExternalSecret {es.label}")
        for ref in es.secretReferences:
            ref_id = node("secretReference", ref, f"SecretReference {ref}")
            for consumer in es.consumers:
                # A SecretReference's own targetPlane is no consumer node; others link to what they name.
                if not consumer.is_target_plane and ref in consumer.secretReferences:
                    edges[(node("consumer", consumer.label, consumer.label), ref_id)] = None
            edges[(ref_id, es_id)] = None
        edges[(es_id, node("plane", es.plane))] = None
    for ref in expl.unusedSecretReferences:
        node("secretReference", ref, f"SecretReference {ref}", "(unused)")
    order = list(prefixes)
    ordered = sorted(nodes.values(), key=lambda n: (order.index(n.role), int(n.id[1:])))
    return ordered, list(edges)


_MERMAID_SHAPES = {"consumer": ('["', '"]'), "secretReference": ('[("', '")]'),
                   "externalSecret": ('(["', '"])'), "plane": ('{{"', '"}}')}


def _mermaid_label(text: str) -> str:
    return text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")


def mermaid(expl: Explanation) -> str:
    """A Mermaid ``graph LR`` (GitHub renders it in a ```mermaid block)."""
    nodes, edges = graph(expl)
    lines = ["graph LR"]
    for n in nodes:
        start, end = _MERMAID_SHAPES[n.role]
        lines.append(f"  {n.id}{start}{'<br/>'.join(_mermaid_label(line) for line in n.lines)}{end}")
    lines.extend(f"  {a} --> {b}" for a, b in edges)
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {"consumer": "box", "secretReference": "cylinder", "externalSecret": "note", "plane": "box3d"}


def _dot_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def dot(expl: Explanation) -> str:
    """Graphviz DOT (``dot -Tsvg`` draws it)."""
    nodes, edges = graph(expl)
    lines = ["digraph fanout {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for n in nodes:
        label = _dot_string("\n".join(n.lines)).replace("\n", "\\n")
        lines.append(f"  {n.id} [label={label}, shape={_DOT_SHAPES[n.role]}];")
    lines.extend(f"  {a} -> {b};" for a, b in edges)
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- diff ------------------------------------------------------------------------------


def diff_text(diffs: list[PlaneDiff]) -> str:
    if not diffs:
        return "No ExternalSecret changes.\n"
    lines = []
    for d in diffs:
        lines.append(f"{d.plane}: {len(d.added)} added, {len(d.removed)} removed, {len(d.changed)} changed")
        lines.extend(f"  + {name}" for name in d.added)
        lines.extend(f"  - {name}" for name in d.removed)
        lines.extend(f"  ~ {name} ({', '.join(paths)})" for name, paths in d.changed)
    return "\n".join(lines) + "\n"


def diff_json(diffs: list[PlaneDiff]) -> str:
    return json.dumps(diff_to_dict(diffs), indent=2) + "\n"
