"""What the pipeline reads of an item it passes through unchanged.

In function mode such an item is written back as its input text
(:mod:`krm_fn.fastio`), so its data is only read, never written: the reader
keeps just the part below, and a large package's Services, ConfigMaps and
workload containers (images, probes, resources) are never all in memory.

The part kept is what the steps read:

* identity and metadata (every step, results, ownership);
* the whole object for anything the inventory types or checks
  (OpenChoreo and ESO kinds, core Secrets, objects this function generated)
  and anything reconcile may change (an item carrying an annotation this
  function writes on consumers);
* in Kubernetes and Argo workloads, the pod-spec fields that can name a
  Secret (:mod:`krm_fn.consumers`), with list positions kept so field paths
  in results stay the same.

A step that starts reading another field of such items must add it here.
Every golden case runs both ways (tests/test_fastio.py) and must agree.
"""
from __future__ import annotations

from typing import Any, Callable

from . import krm, ownership
from .constants import CONSUMER_ANNOTATIONS
from .consumers import ARGO_SPEC_PATHS, POD_SPEC_PATHS, get

WHOLE_GROUPS = ("openchoreo.dev", "external-secrets.io")


def project(obj: dict) -> dict | None:
    """The part of ``obj`` the pipeline reads, or None when it reads (or may read) all of it."""
    api, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if type(api) is not str or type(kind) is not str or type(meta) is not dict:
        return None  # reported as an error, with whatever the object holds
    if krm.group(api) in WHOLE_GROUPS or (kind == "Secret" and api == "v1") or ownership.is_owned(obj):
        return None
    annotations = meta.get("annotations")
    if type(annotations) is dict and any(k in annotations for k in CONSUMER_ANNOTATIONS):
        return None  # reconcile removes the stale annotation: the item is written from its data
    out = {"apiVersion": api, "kind": kind, "metadata": meta}
    path = POD_SPEC_PATHS.get((api, kind))
    if path is not None:
        _put(out, obj, path, _POD_SPEC)
    elif kind in ARGO_SPEC_PATHS and api == "argoproj.io/v1alpha1":
        _put(out, obj, ARGO_SPEC_PATHS[kind], _ARGO_SPEC)
    return out


def _put(out: dict, obj: dict, path: tuple[str, ...], fields: dict[str, Callable[[Any], Any]]) -> None:
    """``out`` gains the mapping at ``path`` in ``obj``, cut to ``fields`` (nothing when it is not a mapping)."""
    node = get(obj, *path)
    if type(node) is not dict:
        return
    for key in path[:-1]:
        out = out.setdefault(key, {})
    out[path[-1]] = _cut(node, fields)


# What a list entry the finders find nothing in becomes: one shared, never written, empty mapping
# (the list keeps its length, so the field paths of the entries that matter stay the same).
_NOTHING: dict = {}


def _only(node: Any, fields: tuple[str, ...]) -> Any:
    """A mapping cut down to ``fields``; anything else as it is (the finders skip it alike)."""
    if type(node) is not dict:
        return node
    return {k: node[k] for k in fields if k in node} or _NOTHING


def _each(node: Any, fields: tuple[str, ...]) -> Any:
    return [_only(entry, fields) for entry in node] if type(node) is list else node


def _env(entries: Any) -> Any:
    """``env``: of each entry only ``valueFrom.secretKeyRef``."""
    if type(entries) is not list:
        return entries
    out = []
    for entry in entries:
        source = entry.get("valueFrom") if type(entry) is dict else None
        ref = source.get("secretKeyRef", _NOTHING) if type(source) is dict else _NOTHING
        out.append({"valueFrom": {"secretKeyRef": ref}} if ref is not _NOTHING else
                   (entry if type(entry) is not dict else _NOTHING))
    return out


def _env_from(entries: Any) -> Any:
    return _each(entries, ("secretRef",))


def _container(container: Any) -> Any:
    if type(container) is not dict:
        return container
    return _cut(container, _CONTAINER) or _NOTHING


def _containers(node: Any) -> Any:
    return [_container(c) for c in node] if type(node) is list else node


def _volume(volume: Any) -> Any:
    if type(volume) is not dict:
        return volume
    out = {}
    if "secret" in volume:
        out["secret"] = volume["secret"]
    projected = volume.get("projected")
    if type(projected) is dict and "sources" in projected:
        out["projected"] = {"sources": _each(projected["sources"], ("secret",))}
    elif "projected" in volume:
        out["projected"] = projected
    return out or _NOTHING


def _volumes(node: Any) -> Any:
    return [_volume(v) for v in node] if type(node) is list else node


def _same(node: Any) -> Any:
    return node


def _cut(node: Any, fields: dict[str, Callable[[Any], Any]]) -> Any:
    """A mapping with only ``fields``, each cut by its function; anything else as it is."""
    if type(node) is not dict:
        return node
    return {key: cut(node[key]) for key, cut in fields.items() if key in node}


def _each_template(node: Any) -> Any:
    return [_cut(t, _ARGO_TEMPLATE) for t in node] if type(node) is list else node


# What the finders of krm_fn/consumers.py read in a container, a pod spec, an Argo template and an Argo spec.
_CONTAINER = {"env": _env, "envFrom": _env_from}
_POD_SPEC = {"imagePullSecrets": _same, "initContainers": _containers, "containers": _containers,
             "ephemeralContainers": _containers, "volumes": _volumes}
_ARGO_TEMPLATE = {"container": _container, "script": _container, "initContainers": _containers,
                  "sidecars": _containers, "volumes": _volumes}
_ARGO_SPEC = {"imagePullSecrets": _same, "volumes": _volumes, "templates": _each_template}
