"""The fan-out for people: what ``secretref-fn explain`` shows, as data.

Built from one :class:`pipeline.Analysis` (run in ``validate`` mode, so its
results hold every problem plus the lint warnings).  Renderers live in
:mod:`krm_fn.explain_formats`; :func:`to_dict` is the documented JSON shape.
Only :func:`_external_secret` looks inside :class:`plan.Planned`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import krm, lint, ownership, sources
from .constants import PLANE_ANNOTATION
from .inventory import Store, selected_planes
from .pipeline import Analysis
from .plan import Planned


@dataclass(frozen=True)
class Consumer:
    apiVersion: str
    kind: str
    namespace: str
    name: str
    fields: tuple[str, ...]  # where it names the secret
    via: krm.ObjectRef | None = None  # the object that deploys it, when not itself (a Workload's ReleaseBinding)
    secretReferences: tuple[str, ...] = ()  # namespace/name of the SecretReferences it names here

    @property
    def is_target_plane(self) -> bool:
        """A SecretReference's own ``spec.targetPlane``, not a workload."""
        return self.kind == "SecretReference" and self.fields == ("spec.targetPlane",)

    @property
    def label(self) -> str:
        if self.is_target_plane:
            return "spec.targetPlane"
        text = f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"
        return f"{text} (via {self.via})" if self.via is not None else text


@dataclass(frozen=True)
class RemoteKey:
    secretReference: str  # namespace/name
    secretKey: str
    key: str
    remoteProperty: str | None = None
    remoteVersion: str | None = None

    @property
    def label(self) -> str:
        """``key#property@version`` (the parts that are set)."""
        text = self.key + (f"#{self.remoteProperty}" if self.remoteProperty else "")
        return text + (f"@{self.remoteVersion}" if self.remoteVersion else "")


@dataclass
class ExternalSecretView:
    plane: str
    namespace: str
    name: str
    store: Store
    secretType: str
    secretReferences: list[str]  # namespace/name, in data order
    data: list[RemoteKey]
    consumers: list[Consumer]

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class PlaneView:
    id: str
    kind: str
    namespace: str
    name: str
    store: Store | None
    externalSecrets: list[ExternalSecretView] = field(default_factory=list)


@dataclass
class Explanation:
    planes: list[PlaneView]
    unusedSecretReferences: list[str]
    problems: list[krm.Result]

    @property
    def external_secrets(self) -> list[ExternalSecretView]:
        return [es for plane in self.planes for es in plane.externalSecrets]

    @property
    def planes_without_consumers(self) -> list[str]:
        return [p.id for p in self.planes if not p.externalSecrets]


def _consumers(needs: list) -> list[Consumer]:
    """One entry per object naming the secret (with every such field), in need order."""
    found: dict[tuple[krm.ObjectRef, krm.ObjectRef | None], tuple[dict, dict]] = {}
    for need in needs:
        holder = krm.ObjectRef.of(need.holder)
        via = krm.ObjectRef.of(need.consumer) if need.holder is not need.consumer else None
        fields, refs = found.setdefault((holder, via), ({}, {}))
        fields[need.field] = None
        refs[f"{need.home_namespace}/{need.secret_name}"] = None
    return [Consumer(ref.apiVersion, ref.kind, ref.namespace, ref.name, tuple(fields), via, tuple(refs))
            for (ref, via), (fields, refs) in found.items()]


def _external_secret(planned: Planned, obj: dict) -> ExternalSecretView:
    """The adapter: everything explain needs from one planned ExternalSecret and its rendered object (what
    the plane receives: the store and remote references as written, e.g. by ``compatibility: upstream``)."""
    target = planned.target
    spec = obj.get("spec") or {}
    written = {d.get("secretKey"): d.get("remoteRef") or {} for d in spec.get("data") or ()}
    data = [RemoteKey(e.ref.source, e.secret_key, e.item.key, e.item.property,
                      written[e.secret_key].get("version") if e.secret_key in written else e.item.version)
            for e in planned.entries]
    template = (spec.get("target") or {}).get("template") or {}
    store_ref = spec.get("secretStoreRef") or {}
    store = Store(store_ref.get("name", target.store.name), store_ref.get("kind", target.store.kind))
    return ExternalSecretView(str(target.plane), target.namespace, target.name, store,
                              template.get("type", "Opaque"), [r.source for r in planned.sources], data,
                              _consumers(planned.needs))


def explain(analysis: Analysis) -> Explanation:
    inv = analysis.inventory
    if inv is None:  # the function config is invalid: only problems to show
        return Explanation([], [], list(analysis.results))
    selected = selected_planes(analysis.config)  # a run limited by the config's `planes` shows only those
    planes = {pid: PlaneView(str(pid), pid.kind, pid.namespace, pid.name, plane.store)
              for pid, plane in sorted(inv.planes.items()) if selected is None or pid in selected}
    for planned, obj in zip(analysis.planned, analysis.generated):  # same order (pipeline.Analysis)
        planes[planned.target.plane].externalSecrets.append(_external_secret(planned, obj))
    unused = [f"{ns}/{name}" for ns, name in lint.unused_secret_refs(inv, analysis.needs, analysis.items)]
    return Explanation(list(planes.values()), unused, list(analysis.results))


# --- JSON ------------------------------------------------------------------------------


def _store(store: Store | None) -> dict | None:
    return None if store is None else {"kind": store.kind, "name": store.name}


def _remote_key(item: RemoteKey) -> dict:
    out = {"secretReference": item.secretReference, "secretKey": item.secretKey, "key": item.key}
    if item.remoteProperty:
        out["property"] = item.remoteProperty
    if item.remoteVersion:
        out["version"] = item.remoteVersion
    return out


def _es_dict(es: ExternalSecretView) -> dict:
    return {
        "namespace": es.namespace,
        "name": es.name,
        "store": _store(es.store),
        "type": es.secretType,
        "secretReferences": es.secretReferences,
        "data": [_remote_key(d) for d in es.data],
        "consumers": [_consumer_dict(c) for c in es.consumers],
    }


def _consumer_dict(c: Consumer) -> dict:
    out = {"apiVersion": c.apiVersion, "kind": c.kind, "namespace": c.namespace, "name": c.name,
           "fields": list(c.fields), "secretReferences": list(c.secretReferences)}
    if c.via is not None:
        out["via"] = c.via.to_dict()
    return out


def to_dict(expl: Explanation) -> dict:
    """The ``--format json`` document (shape documented in the README)."""
    return {
        "planes": [{"plane": p.id, "kind": p.kind, "namespace": p.namespace, "name": p.name,
                    "store": _store(p.store), "externalSecrets": [_es_dict(es) for es in p.externalSecrets]}
                   for p in expl.planes],
        "unusedSecretReferences": expl.unusedSecretReferences,
        "planesWithoutConsumers": expl.planes_without_consumers,
        "problems": [r.to_dict() for r in expl.problems],
    }


# --- diff of two trees -----------------------------------------------------------------


@dataclass
class PlaneDiff:
    plane: str
    added: list[str] = field(default_factory=list)  # namespace/name
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)  # (namespace/name, changed field paths)


def _by_key(analysis: Analysis) -> dict[tuple[str, str], dict]:
    """Generated ExternalSecrets as a cluster receives them, by (plane, namespace/name)."""
    out = {}
    for obj in sources.to_apply(analysis.generated):
        plane = krm.annotations(obj).get(PLANE_ANNOTATION, "")
        out[(plane, f"{krm.namespace(obj)}/{krm.name(obj)}")] = ownership.content(obj)  # the checksum follows
    return out


def changed_paths(old, new, prefix: str = "", depth: int = 3) -> list[str]:
    """Dotted paths (at most ``depth`` deep) where two objects differ."""
    if old == new:
        return []
    if depth == 0 or not isinstance(old, dict) or not isinstance(new, dict):
        return [prefix or "."]
    out = []
    for key in list(old) + [k for k in new if k not in old]:
        out.extend(changed_paths(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else str(key), depth - 1))
    return out


def diff(base: Analysis, head: Analysis) -> list[PlaneDiff]:
    """ExternalSecrets added, removed and changed, per plane, from ``base`` to ``head``."""
    old, new = _by_key(base), _by_key(head)
    planes: dict[str, PlaneDiff] = {}
    for key in sorted(set(old) | set(new)):
        plane, name = key
        entry = planes.setdefault(plane, PlaneDiff(plane))
        if key not in old:
            entry.added.append(name)
        elif key not in new:
            entry.removed.append(name)
        elif old[key] != new[key]:
            entry.changed.append((name, changed_paths(old[key], new[key])))
    return [d for d in planes.values() if d.added or d.removed or d.changed]


def diff_to_dict(diffs: list[PlaneDiff]) -> dict:
    return {"planes": [{"plane": d.plane, "added": d.added, "removed": d.removed,
                        "changed": [{"externalSecret": name, "fields": paths} for name, paths in d.changed]}
                       for d in diffs]}
