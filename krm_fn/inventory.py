"""Step 1: type what we understand.

Walks the input items once and builds an :class:`Inventory`: validated
SecretReferences, planes with their stores, Environments, the objects this
function generated on an earlier run (to be dropped), and user-written
ExternalSecrets (to detect name clashes).  Invalid objects become error
results and are left out of the inventory; they still pass through.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from pydantic import ValidationError

from . import krm, models, names, ownership
from .config import FunctionConfig
from .constants import CHECKSUM_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLANE_ANNOTATION


@dataclass(frozen=True, order=True, slots=True)
class PlaneId:
    kind: str
    namespace: str  # "" for cluster-scoped planes
    name: str

    @classmethod
    def parse(cls, text: str, home_namespace: str) -> "PlaneId | None":
        """``Kind/name`` (cluster-scoped, or namespaced in ``home_namespace``) or ``Kind/ns/name``."""
        parts = text.strip().split("/")
        if len(parts) == 2 and all(parts):
            kind, plane = parts
            ns = "" if kind in models.CLUSTER_PLANE_KINDS else home_namespace
            return cls(kind, ns, plane)
        if len(parts) == 3 and all(parts):
            return cls(parts[0], "" if parts[0] in models.CLUSTER_PLANE_KINDS else parts[1], parts[2])
        return None

    @property
    def family(self) -> str:
        return "data" if self.kind in models.DATA_PLANE_KINDS else "build"

    def __str__(self) -> str:
        return f"{self.kind}/{self.namespace}/{self.name}" if self.namespace else f"{self.kind}/{self.name}"


@dataclass(frozen=True, slots=True)
class Store:
    name: str
    kind: str  # SecretStore | ClusterSecretStore


@dataclass
class Plane:
    id: PlaneId
    obj: dict
    store: Store | None


@dataclass(frozen=True, slots=True)
class DataItem:
    """One ``spec.data[]`` entry of a SecretReference."""

    secret_key: str
    key: str  # remoteRef.key
    property: str | None = None  # remoteRef.property
    version: str | None = None  # remoteRef.version


@dataclass(frozen=True, slots=True)
class Spec:
    """What the pipeline reads of a valid SecretReference's spec, as plain data.

    The pydantic model it was validated with is not kept (:func:`spec_of`): at the L benchmark,
    10,000 models took 30 MB, these records a tenth of that."""

    type: str  # template.type
    labels: Mapping[str, str]  # template.metadata.labels
    annotations: Mapping[str, str]  # template.metadata.annotations
    data: tuple[DataItem, ...]
    refresh_interval: str | None = None  # refreshInterval
    target_plane: "PlaneId | None" = None  # targetPlane
    type_declared: bool = True  # template.type written in the SecretReference (else the default, Opaque)

    def keys(self) -> list[str]:
        """The ``secretKey`` of each data entry, in order."""
        return [item.secret_key for item in self.data]


@dataclass(slots=True)
class SecretRef:
    """A valid SecretReference: its object and its spec."""

    obj: dict
    namespace: str
    name: str
    spec: Spec

    @property
    def source(self) -> str:
        return f"{self.namespace}/{self.name}"


def plain_spec(spec: models.SecretReferenceSpec, namespace: str) -> Spec:
    """The plain record of a validated SecretReference spec (``namespace``: the SecretReference's)."""
    meta = spec.template.metadata
    target = spec.targetPlane
    return Spec(
        spec.template.type, meta.labels or krm.EMPTY, meta.annotations or krm.EMPTY,
        tuple(DataItem(i.secretKey, i.remoteRef.key, i.remoteRef.property, i.remoteRef.version) for i in spec.data),
        spec.refreshInterval,
        None if target is None else PlaneId.parse(f"{target.kind}/{target.name}", namespace),
        "type" in spec.template.model_fields_set)


def spec_of(obj: dict) -> Spec | list[tuple[str, str]]:
    """A SecretReference's spec as plain data, or its problems: (field path, message) pairs."""
    spec, problems = _model(models.SecretReferenceSpec, obj, "SecretReference")
    if spec is None:
        return problems
    seen: dict[str, int] = {}
    for index, item in enumerate(spec.data):
        if item.secretKey in seen:
            return [(f"spec.data[{index}].secretKey",
                     f"secretKey {item.secretKey!r} is defined twice (data[{seen[item.secretKey]}] and data[{index}]); "
                     "ESO rejects duplicate keys")]
        seen[item.secretKey] = index
    if spec.template.type == "bootstrap.kubernetes.io/token":
        return [("spec.template.type", "template type bootstrap.kubernetes.io/token is refused by External Secrets "
                 "Operator (>= 2.4.1); store it as Opaque")]
    return plain_spec(spec, krm.namespace(obj))


class SecretReference(dict):
    """A SecretReference held as its identity (``apiVersion``, ``kind``, ``metadata``) and ``spec``, what
    :func:`spec_of` made of its spec when it was read (how function mode holds one that passes through
    unchanged: :mod:`krm_fn.projection`)."""

    __slots__ = ("spec",)

    def __init__(self, identity: dict, spec: Spec | list[tuple[str, str]]):
        super().__init__(identity)
        self.spec = spec


@dataclass
class Environment:
    obj: dict
    namespace: str
    name: str
    data_plane: PlaneId | None  # None: not set, use the defaults


@dataclass
class Inventory:
    secret_refs: dict[tuple[str, str], SecretRef] = field(default_factory=dict)
    invalid_secret_refs: set[tuple[str, str]] = field(default_factory=set)
    planes: dict[PlaneId, Plane] = field(default_factory=dict)
    invalid_planes: set[PlaneId] = field(default_factory=set)  # reported, left out of ``planes``
    invalid_environments: set[tuple[str, str]] = field(default_factory=set)  # reported, left out of environments
    environments: dict[tuple[str, str], Environment] = field(default_factory=dict)
    owned: set[int] = field(default_factory=set)  # indexes of items we generated earlier
    # files holding ExternalSecrets generated earlier for planes outside this run's `planes` -> their plane
    kept_files: dict[str, str] = field(default_factory=dict)
    environment_copies: list[tuple[Environment, Environment]] = field(default_factory=list)  # defined twice
    user_external_secrets: dict[tuple[str, str], dict] = field(default_factory=dict)
    # (namespace, Secret) -> the user ExternalSecrets writing it; -> the input Secret of that name
    user_secret_names: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    input_secrets: dict[tuple[str, str], dict] = field(default_factory=dict)
    # (namespace, name) -> (its plane, or None for a user's, and the object) of the ExternalSecrets in kpt
    # subpackages that render their own (the run passes them through unread: see pipeline)
    subpackage_external_secrets: dict[tuple[str, str], tuple[str | None, dict]] = field(default_factory=dict)
    # (namespace, name before kustomize renamed it: namePrefix, nameSuffix) -> a SecretReference's name now
    renamed_secret_refs: dict[tuple[str, str], str] = field(default_factory=dict)
    hand_edited: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)  # by ownership.identity

    def first_plane(self, candidates) -> PlaneId | None:
        """The first of ``candidates`` that is in the input (OpenChoreo's default-plane chains)."""
        return next((c for c in candidates if c in self.planes), None)

    def default_data_plane(self, namespace: str) -> PlaneId | None:
        """An Environment's plane when it has no dataPlaneRef: DataPlane default in its namespace, then
        ClusterDataPlane default."""
        return self.first_plane((PlaneId("DataPlane", namespace, "default"),
                                 PlaneId("ClusterDataPlane", "", "default")))


def missing_secret_ref(name: str, namespace: str) -> str:
    """What a consumer naming an absent SecretReference is told (upstream's wording)."""
    return f"SecretReference {name!r} not found in namespace {namespace!r}"


def missing_key(name: str, key: str, available) -> str:
    """What a consumer naming a key its SecretReference lacks is told (upstream's wording)."""
    return f'key "{key}" not found in SecretReference "{name}"; available keys: [{" ".join(available)}]'


def _is_openchoreo(obj: dict) -> bool:
    api = obj.get("apiVersion")
    return isinstance(api, str) and krm.group(api) == models.GROUP


def _check_identity(obj: dict, results: krm.Results, namespaced: bool) -> bool:
    ok = True
    problem = names.dns1123_subdomain_problem(krm.name(obj))
    if problem:
        results.error(f"name {krm.name(obj)!r} {problem}", obj, "metadata.name")
        ok = False
    if namespaced:
        ns = krm.namespace(obj)
        problem = names.dns1123_label_problem(ns) if ns else "is required for this kind"
        if problem:
            results.error(f"namespace {ns!r} {problem}" if ns else f"metadata.namespace {problem}",
                          obj, "metadata.namespace")
            ok = False
    return ok


def _model(model: type, obj: dict, what: str) -> tuple[Any, list[tuple[str, str]]]:
    """(``obj``'s spec validated by ``model``, or None; the problems: (field path, message) pairs)."""
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    try:
        return model.model_validate(spec), []
    except ValidationError as exc:
        problems = models.validation_problems(exc, data=spec)
        return None, [(path, f"invalid {what}: {message}") for path, message in problems]


def _validate(model: type, obj: dict, results: krm.Results, what: str):
    spec, problems = _model(model, obj, what)
    for path, message in problems:
        results.error(message, obj, path)
    return spec


def _add_secret_ref(obj: dict, inv: Inventory, results: krm.Results) -> None:
    key = (krm.namespace(obj), krm.name(obj))
    previous = krm.annotations(obj).get(krm.PREVIOUS_NAMES)
    if isinstance(previous, str):
        for name in previous.split(","):
            if name and name != key[1]:
                inv.renamed_secret_refs.setdefault((key[0], name), key[1])
    identity_ok = _check_identity(obj, results, namespaced=True)
    spec = obj.spec if type(obj) is SecretReference else spec_of(obj)
    if not isinstance(spec, Spec):
        for path, message in spec:
            results.error(message, obj, path)
        spec = None
    if key in inv.secret_refs or key in inv.invalid_secret_refs:
        results.error(f"SecretReference {key[0]}/{key[1]} is defined more than once", obj, "metadata.name")
        inv.secret_refs.pop(key, None)
        inv.invalid_secret_refs.add(key)
        return
    if spec is None or not identity_ok:
        inv.invalid_secret_refs.add(key)
        return
    inv.secret_refs[key] = SecretRef(obj, key[0], key[1], spec)


def _add_plane(obj: dict, kind: str, inv: Inventory, results: krm.Results) -> None:
    cluster = kind in models.CLUSTER_PLANE_KINDS
    plane_id = PlaneId(kind, "" if cluster else krm.namespace(obj), krm.name(obj))
    store = _plane_store(obj, kind, cluster, results)
    if store is False:
        inv.invalid_planes.add(plane_id)
        return
    if plane_id in inv.planes:
        results.error(f"{plane_id} is defined more than once", obj, "metadata.name")
        return
    inv.planes[plane_id] = Plane(plane_id, obj, store)


def _plane_store(obj: dict, kind: str, cluster: bool, results: krm.Results) -> "Store | None | bool":
    """The plane's store (None: it has none), or False when the plane is invalid (reported)."""
    if not _check_identity(obj, results, namespaced=not cluster):
        return False
    spec = _validate(models.PlaneSpec, obj, results, kind)
    if spec is None:
        return False
    store = None
    if spec.secretStoreRef is not None:
        store = Store(spec.secretStoreRef.name, spec.secretStoreRef.kind)
    elif spec.secretStore is not None:
        store = Store(spec.secretStore, "SecretStore")
    if store is not None:
        problem = names.dns1123_subdomain_problem(store.name)
        if problem:
            path = "spec.secretStoreRef.name" if spec.secretStoreRef is not None else "spec.secretStore"
            results.error(f"secret store name {store.name!r} {problem}", obj, path)
            return False
    return store


def _add_environment(obj: dict, inv: Inventory, results: krm.Results) -> None:
    if not _check_identity(obj, results, namespaced=True):
        return
    spec = _validate(models.EnvironmentSpec, obj, results, "Environment")
    if spec is None:
        inv.invalid_environments.add((krm.namespace(obj), krm.name(obj)))
        return
    ns = krm.namespace(obj)
    ref = spec.dataPlaneRef
    if isinstance(ref, str):
        plane = PlaneId("DataPlane", ns, ref) if ref else None
    elif ref is not None:
        plane = PlaneId(ref.kind, "" if ref.kind == "ClusterDataPlane" else ns, ref.name)
    else:
        plane = None
    env = Environment(obj, ns, krm.name(obj), plane)
    first = inv.environments.get((ns, env.name))
    if first is not None:  # compared once every plane is known (see build); the first one is used
        inv.environment_copies.append((first, env))
        return
    inv.environments[(ns, env.name)] = env


def _check_environment_copies(inv: Inventory, results: krm.Results) -> None:
    """The same Environment twice is harmless (OpenChoreo's own samples do it) when both resolve to one
    plane; for different planes, which one a workload's secrets reach would depend on file order."""
    for first, again in inv.environment_copies:
        planes = [str(data_plane_of(env, inv) or "the default plane") for env in (first, again)]
        if planes[0] != planes[1]:
            results.error(f"Environment {again.namespace}/{again.name} is defined more than once, for different "
                          f"planes ({planes[0]}, {planes[1]})", again.obj, "spec.dataPlaneRef")


def data_plane_of(env: "Environment", inv: Inventory) -> PlaneId | None:
    """The data plane an Environment names (in the input or not), else the first plane of its default chain
    in the input (DataPlane default in its namespace, then ClusterDataPlane default); None when neither."""
    return env.data_plane if env.data_plane is not None else inv.default_data_plane(env.namespace)


def _check_plaintext_secret(obj: dict, config: FunctionConfig, results: krm.Results) -> None:
    if config.plaintextSecrets == "allow":
        return
    advice = ("keep the value in the secret store and commit a SecretReference instead (plaintextSecrets: "
              "warning|allow relaxes this)")
    carried = [f for f in ("data", "stringData") if obj.get(f)]
    if carried:
        # Never quote a value: only the field names are reported.
        results.add(f"plaintext secret in the control plane: Secret carries {' and '.join(carried)}; {advice}",
                    obj, carried[0], severity=config.plaintextSecrets)
    applied = _last_applied_secret_fields(obj)
    if applied:  # (a Secret exported with kubectl and its data removed still holds it there)
        results.add(f"plaintext secret in the control plane: Secret's {LAST_APPLIED} annotation carries "
                    f"{' and '.join(applied)}; remove the annotation, {advice}", obj,
                    krm.field_key("metadata.annotations", LAST_APPLIED), severity=config.plaintextSecrets)


LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def _last_applied_secret_fields(obj: dict) -> list[str]:
    """The value fields the JSON of kubectl's last-applied annotation holds (none when it is not JSON)."""
    text = krm.annotations(obj).get(LAST_APPLIED)
    if not isinstance(text, str) or "ata" not in text:
        return []
    try:
        applied = json.loads(text)
    except (ValueError, RecursionError):  # (not JSON, or nested past Python's stack: not kubectl's)
        return []
    return [f for f in ("data", "stringData") if isinstance(applied, dict) and applied.get(f)]


def selected_planes(config: FunctionConfig) -> set[PlaneId] | None:
    """The planes a run is limited to (config ``planes``), or None for all."""
    if not config.planes:
        return None
    return {p for p in (PlaneId.parse(s, "") for s in config.planes) if p is not None}


def _report_hand_edit(obj: dict, results: krm.Results) -> None:
    results.error(f"changed by hand after secretref-fn generated it ({CHECKSUM_ANNOTATION} no longer matches); "
                  "kept as it is and not regenerated: make the change in the SecretReference or the function "
                  f"config and delete this object, or remove the label {MANAGED_BY_LABEL} to own it yourself",
                  obj, krm.field_key("metadata.annotations", CHECKSUM_ANNOTATION))


def build(items: list, config: FunctionConfig, results: krm.Results, files: bool = True) -> Inventory:
    """What the items hold, typed.  ``files``: the output is written back to files by kpt (see
    :func:`_keep_objects_of_absent_planes`; ``render`` and kustomize write a stream)."""
    inv = Inventory()
    selected = selected_planes(config)
    for index, obj in enumerate(items):
        if not isinstance(obj, dict):
            continue
        if ownership.is_owned(obj):
            plane = _generated_for(obj)
            # Another plane's object, outside this run's `planes`, passes through untouched
            # (dropping it would make kpt delete that plane's files).
            if selected is not None and plane is not None and plane not in selected:
                _keep_file(obj, plane, inv)
                continue
            if ownership.edited(obj):
                _report_hand_edit(obj, results)
                inv.hand_edited[ownership.identity(obj)] = obj  # kept as is, not regenerated
            else:
                inv.owned.add(index)
            continue
        kind = obj.get("kind")
        api = obj.get("apiVersion")
        if ownership.carries_label(obj):
            results.warning(f"carries {MANAGED_BY_LABEL}: {MANAGED_BY_VALUE}, but secretref-fn generates only "
                            "ExternalSecrets: kept as it is (remove the label)", obj,
                            krm.field_key("metadata.labels", MANAGED_BY_LABEL))
        if kind == "Secret" and api == "v1":
            _check_plaintext_secret(obj, config, results)
            inv.input_secrets.setdefault((krm.namespace(obj), krm.name(obj)), obj)
        elif ownership.is_external_secret(obj):
            inv.user_external_secrets[(krm.namespace(obj), krm.name(obj))] = obj
            target = krm.get_path(obj, "spec.target.name")
            inv.user_secret_names.setdefault((krm.namespace(obj), target if isinstance(target, str) and target
                                              else krm.name(obj)), []).append(obj)
        elif _is_openchoreo(obj):
            if kind == "SecretReference":
                _add_secret_ref(obj, inv, results)
            elif kind in models.PLANE_KINDS:
                _add_plane(obj, kind, inv, results)
            elif kind == "Environment":
                _add_environment(obj, inv, results)
    _check_environment_copies(inv, results)
    if files:
        _keep_objects_of_absent_planes(items, inv, results)
    return inv


def _generated_for(obj: dict) -> PlaneId | None:
    """The plane a generated object was generated for (its plane annotation), if it names one."""
    return PlaneId.parse(str(krm.annotations(obj).get(PLANE_ANNOTATION, "")), "")


def _keep_file(obj: dict, plane: PlaneId, inv: Inventory) -> None:
    """A generated object passes through: its file stays ``plane``'s (see :func:`reconcile.drop_clashes`)."""
    ref = krm.FileRef.of(obj)
    if ref is not None:
        inv.kept_files.setdefault(ref.path, str(plane))


def note_subpackage_objects(objects: Iterable[dict], inv: Inventory) -> None:
    """Record the ExternalSecrets among a run's unread subpackage objects, for :func:`reconcile.drop_clashes`."""
    for obj in objects:
        if ownership.is_external_secret(obj):
            plane = krm.annotations(obj).get(PLANE_ANNOTATION) if ownership.carries_label(obj) else None
            inv.subpackage_external_secrets.setdefault((krm.namespace(obj), krm.name(obj)),
                                                       (plane if isinstance(plane, str) else None, obj))


def _keep_objects_of_absent_planes(items: list, inv: Inventory, results: krm.Results) -> None:
    """Generated objects of a plane that is not in the input pass through untouched, with a warning.

    Without its plane nothing can be generated for it, and dropping them deletes their files in kpt: right
    when the plane is gone, data loss when kpt sent only part of the package (``kpt fn eval --match-*``, a
    Kptfile ``selectors:``), which the function cannot tell apart.  *Decision:* keep them and say so.
    """
    warned: set[PlaneId] = set()
    for index in sorted(inv.owned):
        obj = items[index]
        plane = _generated_for(obj)
        if plane is None or plane in inv.planes or plane in inv.invalid_planes:
            continue
        inv.owned.discard(index)
        _keep_file(obj, plane, inv)
        if plane not in warned:
            warned.add(plane)
            results.warning(f"ExternalSecrets generated earlier for {plane} are kept as they are: that plane is not "
                            "in the input (if it is gone, delete them; if only part of the package was given, as "
                            "with kpt's --match-* selectors, give the function all of it)", obj,
                            krm.field_key("metadata.annotations", PLANE_ANNOTATION))
