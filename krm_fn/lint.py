"""Step 4b (validate mode, ``lint``, ``explain``): warnings beyond the errors of a render.

Two things a render does not complain about, but a reviewer wants to know:

* a SecretReference nothing uses (no consumer, no ``spec.targetPlane``):
  nothing is generated from it;
* a workload or ServiceClass reading a Secret whose name is no
  SecretReference in a namespace that has SecretReferences: likely a typo,
  reported with the nearest SecretReference name.  Names that an
  ExternalSecret creates in the consumer's namespace (ours or a user's) are
  fine.
"""
from __future__ import annotations

import difflib

from . import krm
from .consumers import Need, secret_names
from .inventory import Inventory
from .plan import Planned
from .releasebindings import auto_deployed_reads, bound_reads, undeployed_reads


def used_secret_refs(needs: list[Need]) -> set[tuple[str, str]]:
    """(namespace, name) of every SecretReference some consumer (or its targetPlane) asks for."""
    return {(n.home_namespace, n.secret_name) for n in needs}


def unused_secret_refs(inv: Inventory, needs: list[Need], items: list) -> list[tuple[str, str]]:
    """Nobody's: no need asks for them, and no Workload reads them that is auto-deployed (OpenChoreo renders those)
    or has a ReleaseBinding (one with an error of its own: that error is the problem, not the reference)."""
    used = used_secret_refs(needs) | auto_deployed_reads(items) | bound_reads(items)
    return sorted(key for key in inv.secret_refs if key not in used)


def suggestion(name: str, candidates: list[str]) -> str | None:
    """The candidate closest to ``name`` (difflib), if any is close enough."""
    close = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def check(items: list, inv: Inventory, needs: list[Need], planned: list[Planned], results: krm.Results) -> None:
    unused = unused_secret_refs(inv, needs, items)
    undeployed = undeployed_reads(items) if unused else {}
    for key in unused:
        ref = inv.secret_refs[key]
        readers = undeployed.get(key)
        if readers:
            named = ", ".join(f"{krm.namespace(w)}/{krm.name(w)}" for w in readers)
            which = "Workload" if len(readers) == 1 else "Workloads"
            results.warning(f"unused: read only by {which} {named}, which no ReleaseBinding in the input deploys "
                            "(nor an autoDeploy Component), so no ExternalSecret is generated from it", ref.obj,
                            "metadata.name")
            continue
        results.warning("unused: no consumer reads this SecretReference and it has no spec.targetPlane, so no "
                        "ExternalSecret is generated from it", ref.obj, "metadata.name")
    by_namespace: dict[str, list[str]] = {}
    for ns, name in list(inv.secret_refs) + sorted(inv.invalid_secret_refs):
        by_namespace.setdefault(ns, []).append(name)
    created = {(p.target.namespace, p.target.name) for p in planned} | inv.user_secret_names.keys()
    for ref in secret_names(items, inv):
        known = by_namespace.get(ref.home_namespace)
        if not known or ref.name in known or (ref.namespace, ref.name) in created:
            continue
        nearest = suggestion(ref.name, known)
        hint = f'; did you mean "{nearest}"?' if nearest else \
            "; it must already exist in the plane, nothing here creates it"
        results.warning(f'secret "{ref.name}" is not a SecretReference in namespace "{ref.home_namespace}"{hint}',
                        ref.consumer, ref.field)
