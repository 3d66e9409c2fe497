"""OpenChoreo's data-plane consumption path: ReleaseBinding + Workload.

For every ``ReleaseBinding`` (``spec.environment``, ``spec.owner``) this takes
the component's ``Workload`` (same namespace, ``spec.owner.componentName``),
merges ``spec.workloadOverrides`` the way upstream does (an override entry
replaces the base entry with the same ``key`` in place; new keys are
appended), and turns every secret env var and secret file into a
:class:`~krm_fn.consumers.Need` that picks one SecretReference entry:

* all secret env vars -> one ExternalSecret ``<component>-<env>-env-secrets-<h8>``
  (``data[].secretKey`` = the env var name);
* each secret file -> one ExternalSecret ``<component>-<env>-secret-<file>-<h8>``
  (``data[].secretKey`` = the file key);

in the data plane of the binding's Environment, in the namespace
``dp-<namespace>-<project>-<env>-<h8>``: the names OpenChoreo itself gives
them (:mod:`krm_fn.openchoreo_naming`).  Accepted reference forms:
``valueFrom.secretKeyRef`` (v1.0+), the legacy ``valueFrom.secretRef``
(v0.4-v0.17) and the legacy ``containers: {<name>: ...}`` map (<= v0.15).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from . import krm, names
from .consumers import Need, get, is_openchoreo, check_labels, text
from .inventory import Inventory, PlaneId, missing_key, missing_secret_ref
from .openchoreo_naming import Remote, dataplane_namespace, env_secrets_name, file_secret_name
from .placement import PlacementError, environment_plane
from .render import UPSTREAM_DATA

KIND_BINDING = "ReleaseBinding"
KIND_WORKLOAD = "Workload"
LABEL_PREFIX = "openchoreo.dev/"
_LABEL_FIELDS = {  # label -> the ReleaseBinding field its value comes from
    LABEL_PREFIX + "namespace": "metadata.namespace", LABEL_PREFIX + "project": "spec.owner.projectName",
    LABEL_PREFIX + "component": "spec.owner.componentName", LABEL_PREFIX + "environment": "spec.environment"}


@dataclass(frozen=True)
class Item:
    """One env var or file after override merging, with where it was written."""

    key: str
    obj: dict  # the raw list entry
    holder: dict  # the Workload or the ReleaseBinding
    path: str  # path of the entry inside holder


def merge_by_key(base: list[Item], overrides: list[Item]) -> list[Item]:
    """Upstream's override merge: same ``key`` replaces in place, new keys are appended."""
    out = list(base)
    index = {e.key: i for i, e in enumerate(out)}
    for entry in overrides:
        if entry.key in index:
            out[index[entry.key]] = entry
        else:
            index[entry.key] = len(out)
            out.append(entry)
    return out


def _entries(container, holder: dict, path: str, group: str) -> list[Item]:
    items = get(container, group)
    if not isinstance(items, list):
        return []
    return [Item(text(item.get("key")), item, holder, f"{path}.{group}[{i}]")
            for i, item in enumerate(items) if isinstance(item, dict) and text(item.get("key"))]


def _containers(spec, holder: dict, path: str) -> list[tuple[str, dict, str]]:
    """(name, container, path): the single ``container``, or the legacy map in name order."""
    out = []
    if isinstance(get(spec, "container"), dict):
        out.append(("", spec["container"], f"{path}.container"))
    legacy = get(spec, "containers")
    if isinstance(legacy, dict):
        # (sorted by the names' text: a key YAML reads as a number or boolean must not stop the run)
        out.extend((name, c, krm.field_key(f"{path}.containers", name))
                   for name, c in sorted(legacy.items(), key=_name_text)
                   if isinstance(c, dict))
    return out


def _report_shapes(holder: dict, spec, path: str, results: krm.Results) -> None:
    """Entries of a Workload's (or an override's) containers that are not what OpenChoreo reads: skipped by
    :func:`merged` (an override would silently not apply), so reported here."""
    if spec is None:
        return
    if not isinstance(spec, dict):
        results.error(f"expected a mapping, found a {krm.type_name(spec)}", holder, path)
        return
    for field in ("container", "containers"):
        value = spec.get(field)
        if value is not None and not isinstance(value, dict):
            results.error(f"expected a mapping, found a {krm.type_name(value)}", holder, f"{path}.{field}")
    for _, container, where in _containers(spec, holder, path):
        for group in ("env", "files"):
            entries = container.get(group)
            if entries is None:
                continue
            if not isinstance(entries, list):
                results.error(f"expected a list, found a {krm.type_name(entries)}", holder, f"{where}.{group}")
                continue
            for i, entry in enumerate(entries):
                at = f"{where}.{group}[{i}]"
                if not isinstance(entry, dict):
                    results.error(f"expected a mapping, found a {krm.type_name(entry)}", holder, at)
                elif not isinstance(entry.get("key"), str) or not entry.get("key"):
                    results.error("key must be a non-empty string" if "key" in entry else "required field is missing",
                                  holder, f"{at}.key")
                elif "valueFrom" in entry and not isinstance(entry["valueFrom"], dict):
                    results.error(f"expected a mapping, found a {krm.type_name(entry['valueFrom'])}", holder,
                                  f"{at}.valueFrom")
                else:
                    for form in ("secretKeyRef", "secretRef"):  # (secret_ref reads only a mapping)
                        ref = entry.get("valueFrom", {}).get(form)
                        if ref is not None and not isinstance(ref, dict):
                            results.error(f"expected a mapping, found a {krm.type_name(ref)}", holder,
                                          f"{at}.valueFrom.{form}")


def _name_text(entry: tuple) -> str:
    return str(entry[0])


def merged(workload: dict, binding: dict, group: str) -> list[Item]:
    """The ``env`` or ``files`` entries the binding deploys, in upstream's order.

    Containers of the legacy map are merged one by one with the override of
    the same name, then concatenated in container-name order (later keys
    replacing earlier ones like an override).
    """
    overrides = {name: (c, p) for name, c, p in
                 _containers(get(binding, "spec", "workloadOverrides"), binding, "spec.workloadOverrides")}
    out: list[Item] = []
    for name, container, path in _containers(get(workload, "spec"), workload, "spec"):
        entries = _entries(container, workload, path, group)
        if name in overrides:
            override, override_path = overrides[name]
            entries = merge_by_key(entries, _entries(override, binding, override_path, group))
        out = merge_by_key(out, entries)
    return out


def secret_ref(entry: Item) -> tuple[str, str, str] | None:
    """(SecretReference name, key, field path) of a secret entry, or None for a plain value."""
    for form in ("secretKeyRef", "secretRef"):
        ref = get(entry.obj, "valueFrom", form)
        if isinstance(ref, dict):
            return text(ref.get("name")), text(ref.get("key")), f"{entry.path}.valueFrom.{form}"
    return None


def remote(inv: Inventory, namespace: str, name: str, key: str) -> Remote | None:
    """The remoteRef upstream carries forward: the first data[] entry with that secretKey."""
    ref = inv.secret_refs.get((namespace, name))
    if ref is None:
        return None
    item = next((i for i in ref.spec.data if i.secret_key == key), None)
    if item is None:
        return None
    return Remote(item.key, item.property or "", item.version or "")


def _workloads_of(ns: str, component: str, project: str, workloads: list[dict]) -> list[dict]:
    """The Workloads of a component (a Workload may leave its project out)."""
    return [w for w in workloads if krm.namespace(w) == ns and text(get(w, "spec", "owner", "componentName")) ==
            component and text(get(w, "spec", "owner", "projectName")) in ("", project)]


def _workload(binding: dict, component: str, project: str, workloads: list[dict],
              results: krm.Results) -> dict | None:
    ns = krm.namespace(binding)
    found = _workloads_of(ns, component, project, workloads)
    if len(found) == 1:
        return found[0]
    if not found:
        results.error(f"Workload of component {component!r} not found: no Workload in namespace {ns!r} has "
                      f"spec.owner.componentName {component!r}", binding, "spec.owner.componentName")
    else:
        listed = ", ".join(krm.name(w) for w in found)
        results.error(f"component {component!r} has several Workloads in namespace {ns!r}: {listed}", binding,
                      "spec.owner.componentName")
    return None


def _plane(binding: dict, env_name: str, inv: Inventory, results: krm.Results) -> PlaneId | None:
    ns = krm.namespace(binding)
    env = inv.environments.get((ns, env_name))
    if env is None:
        if (ns, env_name) not in inv.invalid_environments:  # (an invalid one is reported on itself)
            results.error(f"Environment {env_name!r} not found in namespace {ns!r}", binding, "spec.environment")
        return None
    try:
        return environment_plane(env, inv)
    except PlacementError as exc:
        results.error(exc.message, exc.obj if exc.obj is not None else binding, exc.field)
        return None


def _binding_needs(binding: dict, workloads: list[dict], inv: Inventory, results: krm.Results) -> Iterator[Need]:
    if not krm.has_namespace(binding, results):
        return
    ns = krm.namespace(binding)
    component = text(get(binding, "spec", "owner", "componentName"))
    project = text(get(binding, "spec", "owner", "projectName"))
    env_name = text(get(binding, "spec", "environment"))
    missing = [f for f, v in (("spec.owner.componentName", component), ("spec.owner.projectName", project),
                              ("spec.environment", env_name)) if not v]
    for path in missing:
        found = krm.get_path(binding, path)
        results.error("required field is missing" if found is None or found == "" else
                      f"expected a name, found a {krm.type_name(found)}", binding, path)
    if missing:
        return
    workload = _workload(binding, component, project, workloads, results)
    if workload is None:
        return
    _report_shapes(workload, get(workload, "spec"), "spec", results)
    _report_shapes(binding, get(binding, "spec", "workloadOverrides"), "spec.workloadOverrides", results)
    secrets: list[tuple[str, Item, tuple[str, str, str]]] = []
    for group in ("env", "files"):
        for entry in merged(workload, binding, group):
            ref = secret_ref(entry)
            if ref is None:
                continue
            name, key, path = ref
            if not name or not key:
                raw = get(entry.obj, "valueFrom", path.rpartition(".")[2])
                wrong = next((f for f in ("name", "key") if raw.get(f) is not None and not isinstance(raw[f], str)),
                             None)
                if wrong is not None:
                    results.error(f"{wrong} must be a string, found a {krm.type_name(raw[wrong])}", entry.holder,
                                  f"{path}.{wrong}")
                else:
                    results.error("a secret reference needs both name and key", entry.holder, path)
                continue
            problem = names.secret_key_problem(entry.key)
            if problem:
                results.error(f"key {entry.key!r} cannot be a Secret key: it {problem}", entry.holder,
                              f"{entry.path}.key")
                continue
            secrets.append((group, entry, ref))
    plane = _plane(binding, env_name, inv, results) if secrets else None
    if plane is None:
        # (no plane, nothing to render: what the entries read is still checked, so that one run reports it all)
        _check_reads([(entry.holder, name, key, path) for _, entry, (name, key, path) in secrets], inv, results)
        return
    target_ns = dataplane_namespace(ns, project, env_name)
    labels = {LABEL_PREFIX + "namespace": ns, LABEL_PREFIX + "project": project,
              LABEL_PREFIX + "component": component, LABEL_PREFIX + "environment": env_name}
    if not check_labels(labels, binding, _LABEL_FIELDS, results):
        return
    envs = [(e.key, remote(inv, ns, n, k)) for g, e, (n, k, _) in secrets if g == "env"]
    env_target = env_secrets_name(component, env_name, envs)
    for group, entry, (name, key, path) in secrets:
        if group == "env":
            target = env_target
        else:
            target = file_secret_name(component, env_name, entry.key, remote(inv, ns, name, key))
        yield Need(binding, f"{path}.name", name, ns, "data", target_ns, target, key, f"{path}.key",
                   plane=plane, secret_key=entry.key, source=entry.holder if entry.holder is not binding else None,
                   labels=labels, upstream=UPSTREAM_DATA, made_up=True)


def find(items: list, inv: Inventory, results: krm.Results) -> list[Need]:
    """Needs of every ReleaseBinding, in input order."""
    workloads, bindings = _workloads_and_bindings(items)
    for workload in workloads:
        if not krm.namespace(workload) and _secret_reads(workload):  # (a kustomize base, say: a warning, as for a
            results.warning("Workload has no metadata.namespace, so no ReleaseBinding deploys it here and its "  # Pod)
                            "secrets cannot be matched to SecretReferences; set the namespace before this function "
                            "runs", workload, "metadata.namespace")
    needs: list[Need] = []
    for binding in bindings:
        needs.extend(_binding_needs(binding, workloads, inv, results))
    for component in items:
        _check_auto_deployed(component, bindings, workloads, inv, results)
    return needs


def auto_deployed_reads(items: list) -> set[tuple[str, str]]:
    """(namespace, name) of the SecretReferences read by the Workloads of ``autoDeploy`` Components that have
    no ReleaseBinding in the input (used, though nothing is rendered for them here).  ``items``: the input's,
    or an output's (the objects read here are never generated ones)."""
    workloads, bindings = _workloads_and_bindings(items)
    return {(krm.namespace(w), name) for component in items
            for w, name, _, _ in _unbound_reads(component, bindings, workloads)}


def undeployed_reads(items: list) -> dict[tuple[str, str], list[dict]]:
    """(namespace, name) of each SecretReference a Workload reads that no ReleaseBinding in ``items`` deploys
    (its component has none), with those Workloads: nothing is rendered for those reads here."""
    return _workload_reads(items, bound=False)


def bound_reads(items: list) -> set[tuple[str, str]]:
    """(namespace, name) of each SecretReference a Workload with a ReleaseBinding reads (used, even when the
    binding has an error of its own that keeps it from rendering)."""
    return set(_workload_reads(items, bound=True))


def _workload_reads(items: list, bound: bool) -> dict[tuple[str, str], list[dict]]:
    workloads, bindings = _workloads_and_bindings(items)
    deployed = {(krm.namespace(b), text(get(b, "spec", "owner", "componentName"))) for b in bindings}
    reads: dict[tuple[str, str], list[dict]] = {}
    for w in workloads:
        if ((krm.namespace(w), text(get(w, "spec", "owner", "componentName"))) in deployed) is not bound:
            continue
        for name, _, _ in _secret_reads(w):
            readers = reads.setdefault((krm.namespace(w), name), [])
            if w not in readers:
                readers.append(w)
    return reads


def _secret_reads(workload: dict) -> list[tuple[str, str, str]]:
    """(SecretReference name, key, field path) of each secret env var and file of a Workload as written."""
    return [ref for group in ("env", "files") for entry in merged(workload, {}, group)
            if (ref := secret_ref(entry)) and ref[0]]


def _workloads_and_bindings(items: list) -> tuple[list[dict], list[dict]]:
    """The items' Workloads and ReleaseBindings (never generated objects: those are ExternalSecrets)."""
    return ([obj for obj in items if is_openchoreo(obj, KIND_WORKLOAD)],
            [obj for obj in items if is_openchoreo(obj, KIND_BINDING)])


def _unbound_reads(component: dict, bindings: list[dict], workloads: list[dict]) -> list[tuple[dict, str, str, str]]:
    """(Workload, SecretReference name, key, field path) of each secret entry of an ``autoDeploy: true``
    Component's Workloads when no ReleaseBinding of it is in the input (OpenChoreo binds it itself)."""
    if not (is_openchoreo(component, "Component") and get(component, "spec", "autoDeploy") is True):
        return []
    ns, name = krm.namespace(component), krm.name(component)
    if any(krm.namespace(b) == ns and text(get(b, "spec", "owner", "componentName")) == name for b in bindings):
        return []
    project = text(get(component, "spec", "owner", "projectName"))
    return [(w, *ref) for w in _workloads_of(ns, name, project, workloads) for ref in _secret_reads(w)]


def _check_auto_deployed(component: dict, bindings: list[dict], workloads: list[dict], inv: Inventory,
                         results: krm.Results) -> None:
    """``autoDeploy: true``: OpenChoreo binds the component to its first environment itself.  Without
    that ReleaseBinding in the input, the ExternalSecrets OpenChoreo then renders for the Workload's
    secret env vars and files are not rendered here: said once, on the Component.  What they read is
    still checked: a missing SecretReference or key fails that deployment in OpenChoreo."""
    reads = _unbound_reads(component, bindings, workloads)
    if not reads:
        return
    results.warning(f"autoDeploy is true and Workload {krm.name(reads[0][0])!r} reads SecretReferences, but no "
                    f"ReleaseBinding of component {krm.name(component)!r} is in the input: OpenChoreo creates that "
                    "binding itself, and the ExternalSecrets it renders for it are not rendered here; add the "
                    "ReleaseBinding to render them", component, "spec.autoDeploy")
    _check_reads(reads, inv, results)


def _check_reads(reads: list[tuple[dict, str, str, str]], inv: Inventory, results: krm.Results) -> None:
    """Report the reads (holder, SecretReference name, key, field path) of a missing SecretReference or key:
    for reads nothing is rendered for here (the plan checks the others)."""
    for holder, name, key, path in reads:
        ns = krm.namespace(holder)
        if (ns, name) in inv.invalid_secret_refs:
            continue  # reported on the SecretReference itself
        ref = inv.secret_refs.get((ns, name))
        if ref is None:
            results.error(missing_secret_ref(name, ns), holder, f"{path}.name")
        elif key and key not in ref.spec.keys():
            results.error(missing_key(name, key, ref.spec.keys()), holder, f"{path}.key")
