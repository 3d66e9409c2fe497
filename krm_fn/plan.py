"""Step 3b: from needs and planes to the set of ExternalSecrets to render.

Checks everything a need depends on (the SecretReference exists and defines
the key read, the plane has a store, names are valid) and merges needs that
land on the same plane/namespace/name.  A need either copies a whole
SecretReference or picks one of its entries under a new key; two different
SecretReferences copied to one name, or one key picked from two different
places, is an error naming both.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from . import krm, names, render
from .config import FunctionConfig, setting_path
from .constants import TARGET_NAMESPACE_ANNOTATION
from .consumers import Need
from .inventory import Inventory, PlaneId, SecretRef, missing_key, missing_secret_ref, selected_planes
from .placement import PlacementError, planes_for
from .render import Content, Entry, Target


@dataclass(slots=True)
class Planned(Content):
    needs: list[Need] = field(default_factory=list)

    def conflict(self, whole: SecretRef | None, entries: Sequence[Entry]) -> str | None:
        """Why ``entries`` cannot join this ExternalSecret, or None (then they are merged in)."""
        if (whole is None) != (self.template_ref is None):
            return f"both a whole SecretReference and single entries picked under new keys: {self.source}"
        if whole is not None:
            return None if whole is self.template_ref else f"two SecretReferences: {self.source}"
        have = {e.secret_key: e for e in self.entries}
        for entry in entries:
            other = have.get(entry.secret_key)
            if other is not None and (other.ref is not entry.ref or other.item != entry.item):
                return f"two sources for key {entry.secret_key!r}: {other.ref.source}"
        self.entries.extend(e for e in entries if e.secret_key not in have)  # picked entries: a list (entries_of)
        return None


def _consumer_error(results: krm.Results, need: Need, message: str, path: str | None) -> None:
    results.error(message, need.holder, path or need.field)


def entries_of(need: Need, ref: SecretRef, wholes: dict[int, tuple[Entry, ...]]) -> \
        tuple[SecretRef | None, Sequence[Entry]]:
    """(the SecretReference copied whole, or None; the data entries) ``need`` contributes.

    A whole copy's entries are one tuple per SecretReference (kept in ``wholes``), shared by every
    ExternalSecret that copies it; picked entries are a new list (:meth:`Planned.conflict` extends it)."""
    if need.secret_key is None:
        entries = wholes.get(id(ref))
        if entries is None:
            entries = wholes[id(ref)] = tuple(Entry(item.secret_key, ref, item) for item in ref.spec.data)
        return ref, entries
    item = next(i for i in ref.spec.data if i.secret_key == need.key)  # the first one, as upstream
    return None, [Entry(need.secret_key, ref, item)]


def _secret_ref(need: Need, inv: Inventory, results: krm.Results, policy: str = "Owner") -> SecretRef | None:
    """``need``'s SecretReference, or None (reported).  ``policy``: the config's creationPolicy."""
    key = (need.home_namespace, need.secret_name)
    if key in inv.invalid_secret_refs:
        return None  # already reported on the SecretReference itself
    ref = inv.secret_refs.get(key)
    if ref is None:
        _consumer_error(results, need, missing_secret_ref(need.secret_name, need.home_namespace), need.field)
        return None
    if need.key is not None:
        # A picked entry must be a data[] entry; a whole copy is read as the resulting Secret.
        available = ref.spec.keys() if need.secret_key is not None else render.secret_keys(ref)
        if need.key not in available:
            message = missing_key(ref.name, need.key, available)
            if need.optional:  # Kubernetes starts the pod without it: worth a look, not a failure
                results.warning(f"{message} (the reference is optional)", need.consumer, need.key_field)
                return ref
            _consumer_error(results, need, message, need.key_field)
            return None
    # (under None no Secret is written; under Merge a type the SecretReference does not state is not written:
    # the existing Secret keeps its own)
    if ".imagePullSecrets[" in need.field and ref.spec.type not in _PULL_TYPES and policy != "None" \
            and not (policy == "Merge" and not ref.spec.type_declared):
        results.warning(f"SecretReference {ref.name!r} makes a Secret of type {ref.spec.type}: the kubelet pulls "
                        f"images only with a {' or '.join(_PULL_TYPES)} Secret (set spec.template.type)",
                        need.holder, need.field)
    return ref


_PULL_TYPES = ("kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg")


def _names_ok(need: Need, results: krm.Results) -> bool:
    problem = names.dns1123_label_problem(need.target_namespace)
    if problem:
        from_annotation = krm.annotations(need.consumer).get(TARGET_NAMESPACE_ANNOTATION) == need.target_namespace
        path = (krm.field_key("metadata.annotations", TARGET_NAMESPACE_ANNOTATION) if from_annotation
                else "metadata.namespace")
        _consumer_error(results, need, f"target namespace {need.target_namespace!r} {problem}", path)
        return False
    problem = names.dns1123_subdomain_problem(need.target_name)
    if problem:
        _consumer_error(results, need, f"ExternalSecret name {need.target_name!r} {problem}", None)
        return False
    if len(need.target_name) > OLD_ESO_NAME_LIMIT:
        results.warning(f"ExternalSecret name {need.target_name!r} is {len(need.target_name)} characters: External "
                        f"Secrets Operator 0.8.2 to 0.18.0 cannot sync a name over {OLD_ESO_NAME_LIMIT} (its field "
                        "manager name is limited; fixed in 0.18.1): shorten the name on such a plane",
                        need.holder, need.field)
    return True


OLD_ESO_NAME_LIMIT = 92


def _invalid_planes_hint(need: Need, inv: Inventory) -> str:
    """A placement failure may come from a plane that was left out as invalid: say so."""
    invalid = sorted(p for p in inv.invalid_planes
                     if p.family == need.family and p.namespace in ("", need.home_namespace))
    if not invalid:
        return ""
    return f" (planes left out as invalid, see their errors: {', '.join(str(p) for p in invalid)})"


def build(needs: list[Need], inv: Inventory, config: FunctionConfig, results: krm.Results,
          function_config: dict | None, elsewhere: set[int] | None = None) -> list[Planned]:
    """The ExternalSecrets the needs ask for.  ``elsewhere`` gains the ids of the consumers whose needs go
    to planes outside the run's ``planes`` (what points at those planes is left as it is)."""
    selected = selected_planes(config)
    if selected is not None:
        path = setting_path(function_config, "planes") if function_config is not None else None
        for plane in sorted(selected - set(inv.planes)):
            results.error(f"planes: {plane} is not in the input" if function_config is not None
                          else f"plane {plane} is not in the input", function_config, path)
    planned: dict[tuple[PlaneId, str, str], Planned] = {}
    storeless: dict[PlaneId, list[str]] = {}
    broken: set[tuple[str, str]] = set()  # ExternalSecrets missing a picked entry: not rendered half
    wholes: dict[int, tuple[Entry, ...]] = {}
    for need in needs:
        ref = _secret_ref(need, inv, results, config.creationPolicy)
        try:  # (placed even when the reference is wrong: one run reports both)
            targets = planes_for(need, inv)
        except PlacementError as exc:
            results.error(exc.message + _invalid_planes_hint(need, inv),
                          exc.obj if exc.obj is not None else need.consumer, exc.field)
            targets = None
        if ref is None:
            if need.secret_key is not None:
                broken.add((need.target_namespace, need.target_name))
            continue
        if targets is None:
            continue
        if not _names_ok(need, results):
            continue
        for plane_id in targets:
            if selected is not None and plane_id not in selected:
                if elsewhere is not None:
                    elsewhere.add(id(need.consumer))
                continue
            plane = inv.planes[plane_id]
            if plane.store is None:
                storeless.setdefault(plane_id, []).append(ref.source)
                continue
            key = (plane_id, need.target_namespace, need.target_name)
            existing = planned.get(key)
            whole, entries = entries_of(need, ref, wholes)
            if existing is None:
                planned[key] = Planned(Target(plane_id, plane.store, need.target_namespace, need.target_name),
                                       whole, entries, need.labels, need.upstream, need.made_up, needs=[need])
                continue
            problem = existing.conflict(whole, entries)
            if problem is None:
                existing.needs.append(need)
                existing.made_up = existing.made_up and need.made_up  # (a consumer reads the name: it may exist)
            else:
                first = existing.needs[0]
                results.error(
                    f"ExternalSecret {need.target_namespace}/{need.target_name} in {plane_id} would come from "
                    f"{problem} (for {krm.ObjectRef.of(first.consumer)}) and "
                    f"{ref.source} (for {krm.ObjectRef.of(need.consumer)}); rename one of them",
                    need.consumer, need.field)
    for plane_id, sources in sorted(storeless.items()):
        store_field = "spec.secretStoreRef"
        results.error(f"{plane_id} has no secretStoreRef (or secretStore), but secrets must reach it: "
                      f"{', '.join(sorted(set(sources)))}", inv.planes[plane_id].obj, store_field)
    return [planned[k] for k in sorted(planned) if (k[1], k[2]) not in broken]
