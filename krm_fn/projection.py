"""What the pipeline reads of an item it passes through unchanged.

In function mode such an item is written back as its input text
(:mod:`krm_fn.fastio`), so its data is only read, never written: the reader
keeps just the part below, and a large package's Services, ConfigMaps and
workloads (images, probes, resources) are never all in memory.

The part kept is what the steps read:

* identity and metadata (every step, results, ownership);
* of a SecretReference, its spec as the inventory types it
  (:func:`krm_fn.inventory.spec_of`: plain data, or the problems to report),
  in a :class:`krm_fn.inventory.SecretReference`;
* the whole object for anything else the inventory types or checks
  (OpenChoreo and ESO kinds, core Secrets, objects this function generated,
  Kptfiles: the pipeline reads which subpackages run this function;
  Lists: the pipeline reads the objects they hold)
  and anything reconcile may change (an item carrying an annotation this
  function writes on consumers);
* of a Kubernetes or Argo workload, the Secret names its pod specs read, as
  :func:`krm_fn.consumers.workload_refs` finds them, with their field paths
  (a :class:`krm_fn.consumers.Workload`).

A step that starts reading another field of such items must add it here.
Every golden case runs both ways (tests/test_fastio.py) and must agree.
"""
from __future__ import annotations

import sys

from . import krm, ownership
from .constants import CONSUMER_ANNOTATIONS
from .consumers import Ref, Workload, workload_refs
from .inventory import SecretReference, spec_of
from .models import GROUP

WHOLE_GROUPS = ("openchoreo.dev", "external-secrets.io", "kpt.dev")  # (Kptfiles: their pipeline is read)


def project(obj: dict) -> dict | None:
    """The part of ``obj`` the pipeline reads, or None when it reads (or may read) all of it."""
    api, kind, meta = obj.get("apiVersion"), obj.get("kind"), obj.get("metadata")
    if type(api) is not str or type(kind) is not str or type(meta) is not dict:
        return None  # reported as an error, with whatever the object holds
    if ownership.is_owned(obj):
        return None
    annotations = meta.get("annotations")
    if type(annotations) is dict and any(k in annotations for k in CONSUMER_ANNOTATIONS):
        return None  # reconcile removes the stale annotation: the item is written from its data
    identity = {"apiVersion": api, "kind": kind, "metadata": meta}
    group = krm.group(api)
    if kind == "SecretReference" and group == GROUP:
        return SecretReference(identity, spec_of(obj))
    if group in WHOLE_GROUPS or kind == "List" or (kind == "Secret" and api == "v1"):
        return None
    found = workload_refs(obj)
    if found is None:
        return identity
    family, refs = found
    return Workload(identity, (family, tuple(_shared(ref) for ref in refs)))


def _shared(ref: Ref) -> Ref:
    """``ref`` with its field paths interned: workloads laid out alike have the same paths."""
    key_field = ref.key_field
    return ref._replace(field=sys.intern(ref.field), key_field=None if key_field is None else sys.intern(key_field))
