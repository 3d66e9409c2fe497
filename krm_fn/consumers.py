"""Step 2: find who needs which secret.

Each consumer kind has one small finder that yields :class:`Need`s: a
SecretReference name, the field that named it, and where the ExternalSecret
must land (namespace, name, plane family).  Names that are not
SecretReferences in the consumer's home namespace are left alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Callable, Iterable, Iterator, Mapping, NamedTuple

from . import krm, names
from .constants import (CREDENTIALS_SECRET_ANNOTATION, OPENCHOREO_NAMESPACE, TARGET_NAMESPACE_ANNOTATION)
from .inventory import Inventory, PlaneId
from .models import GROUP
from .openchoreo_naming import git_secret_name


@dataclass(frozen=True, slots=True)
class Need:
    consumer: dict
    field: str  # path of the reference inside the consumer
    secret_name: str  # SecretReference name, in home_namespace
    home_namespace: str
    family: str  # "data" | "build"
    target_namespace: str
    target_name: str  # ExternalSecret name and target Secret name
    key: str | None = None  # a key the consumer reads from the Secret
    key_field: str | None = None
    optional: bool = False  # the reference is marked optional (Kubernetes starts the pod without the key)
    fan_out: bool = False  # ServiceClass: every data plane the class can deploy to
    plane: PlaneId | None = None  # fixed plane (SecretReference.spec.targetPlane, ReleaseBinding, WorkflowRun)
    # Set: only the SecretReference entry ``key`` is needed, written under this secretKey (OpenChoreo's
    # env-secrets / file ExternalSecrets). None: the whole SecretReference is copied.
    secret_key: str | None = None
    source: dict | None = None  # the object holding ``field`` when not the consumer (a ReleaseBinding's Workload)
    labels: Mapping[str, str] = dataclass_field(default_factory=lambda: krm.EMPTY)  # extra labels on the ExternalSecret
    upstream: str | None = None  # the OpenChoreo template this mirrors (render.UPSTREAM_*)
    made_up: bool = False  # target_name is made up here (render.Content.made_up), not the name a consumer reads

    @property
    def holder(self) -> dict:
        """The object to report problems with ``field`` / ``key_field`` on."""
        return self.source if self.source is not None else self.consumer


def home_namespace(obj: dict) -> str:
    """Where a consumer's SecretReferences, Environments and planes live."""
    for source in (krm.labels(obj), krm.annotations(obj)):
        value = source.get(OPENCHOREO_NAMESPACE)
        if isinstance(value, str) and value:
            return value
    return krm.namespace(obj)


def _home_is_wrong(obj: dict, results: krm.Results) -> bool:
    """A label or annotation openchoreo.dev/namespace that is no namespace name, or the two naming different
    home namespaces: an error (which namespace's SecretReferences were meant is a guess); the consumer is not
    read further."""
    found = krm.annotation_and_label(obj, OPENCHOREO_NAMESPACE)
    for value, what, field in found:
        problem = names.dns1123_label_problem(value)
        if problem:
            results.error(f"the {what} {OPENCHOREO_NAMESPACE} names the home namespace: {value!r} {problem}",
                          obj, field)
            return True
    if len(found) == 2 and found[0][0] != found[1][0]:
        (annotation, _, field), (label, _, _) = found
        results.error(f"the label and the annotation {OPENCHOREO_NAMESPACE} disagree ({label!r}, {annotation!r}): "
                      "keep one", obj, field)
        return True
    return False


def get(obj, *path):
    """The value at ``path`` (keys and list indexes), None when any step is missing."""
    for part in path:
        if isinstance(part, int):
            if not isinstance(obj, list) or part >= len(obj):
                return None
        elif not isinstance(obj, dict):
            return None
        obj = obj[part] if isinstance(part, int) else obj.get(part)
    return obj


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _str(value) -> str | None:
    return value if isinstance(value, str) and value else None


def text(value) -> str:
    """A string field's value, ``""`` when absent or not a string."""
    return value if isinstance(value, str) else ""


def check_labels(labels: dict[str, str], obj: dict, fields: dict[str, str], results: krm.Results) -> bool:
    """Labels whose values come from object names must be label values; ``fields``: label -> source field."""
    ok = True
    for key, value in labels.items():
        problem = names.label_value_problem(value)
        if problem:
            results.error(f"the ExternalSecret's label {key} (as OpenChoreo labels it) would be {value!r}, "
                          f"which {problem}", obj, fields.get(key, "metadata.name"))
            ok = False
    return ok


def is_openchoreo(obj, kind: str) -> bool:
    """``obj`` is an OpenChoreo object (openchoreo.dev, any version) of ``kind``."""
    return isinstance(obj, dict) and obj.get("kind") == kind and krm.group(text(obj.get("apiVersion"))) == GROUP


# --- pod specs ---------------------------------------------------------------------

class Ref(NamedTuple):
    """A Secret name found in a pod spec."""

    name: str
    field: str  # path of the name
    key: str | None = None  # a key read from the Secret
    key_field: str | None = None
    optional: bool = False  # ``optional: true`` on the secretKeyRef or secret volume that reads the key


def _container_refs(container: dict, path: str) -> Iterator[Ref]:
    for i, env in enumerate(_list(container.get("env"))):
        ref = get(env, "valueFrom", "secretKeyRef")
        name = _str(get(ref, "name"))
        if name:
            key = _str(get(ref, "key"))
            field = f"{path}.env[{i}].valueFrom.secretKeyRef"
            yield Ref(name, f"{field}.name", key, f"{field}.key", get(ref, "optional") is True)
    for i, source in enumerate(_list(container.get("envFrom"))):
        name = _str(get(source, "secretRef", "name"))
        if name:
            yield Ref(name, f"{path}.envFrom[{i}].secretRef.name")


def _pull_secret_refs(spec: dict, path: str) -> Iterator[Ref]:
    for i, pull in enumerate(_list(spec.get("imagePullSecrets"))):
        name = _str(get(pull, "name"))
        if name:
            yield Ref(name, f"{path}.imagePullSecrets[{i}].name")


def pod_spec_refs(spec, path: str) -> Iterator[Ref]:
    """Every Secret name a pod spec reads (containers, init containers, volumes, pull secrets)."""
    if not isinstance(spec, dict):
        return
    yield from _pull_secret_refs(spec, path)
    for group in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(_list(spec.get(group))):
            if isinstance(container, dict):
                yield from _container_refs(container, f"{path}.{group}[{i}]")
    yield from _volume_refs(spec.get("volumes"), path)


def _volume_refs(volumes, path: str) -> Iterator[Ref]:
    for i, volume in enumerate(_list(volumes)):
        vpath = f"{path}.volumes[{i}]"
        secret = get(volume, "secret")
        name = _str(get(secret, "secretName"))
        if name:
            yield from _items_refs(name, f"{vpath}.secret", secret, "secretName")
        for j, source in enumerate(_list(get(volume, "projected", "sources"))):
            secret = get(source, "secret")
            name = _str(get(secret, "name"))
            if name:
                yield from _items_refs(name, f"{vpath}.projected.sources[{j}].secret", secret, "name")


def _items_refs(name: str, path: str, secret: dict, name_field: str) -> Iterator[Ref]:
    """A secret volume (or projected source) ``secret``: its name, with each key its ``items`` read."""
    keys = [(k, i) for i, item in enumerate(_list(secret.get("items"))) if (k := _str(get(item, "key")))]
    if not keys:
        yield Ref(name, f"{path}.{name_field}")
    optional = secret.get("optional") is True
    for key, i in keys:
        yield Ref(name, f"{path}.{name_field}", key, f"{path}.items[{i}].key", optional)


# Where each workload kind keeps its pod spec(s).
POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("v1", "Pod"): ("spec",),
    ("apps/v1", "Deployment"): ("spec", "template", "spec"),
    ("apps/v1", "StatefulSet"): ("spec", "template", "spec"),
    ("apps/v1", "DaemonSet"): ("spec", "template", "spec"),
    ("apps/v1", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch/v1", "Job"): ("spec", "template", "spec"),
    ("batch/v1", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}
ARGO_SPEC_PATHS = {"Workflow": ("spec",), "WorkflowTemplate": ("spec",), "ClusterWorkflowTemplate": ("spec",),
               "CronWorkflow": ("spec", "workflowSpec")}


def _argo_refs(spec, path: str) -> Iterator[Ref]:
    """Argo Workflows: pull secrets and volumes at the top, containers in templates."""
    if not isinstance(spec, dict):
        return
    yield from _pull_secret_refs(spec, path)
    yield from _volume_refs(spec.get("volumes"), path)
    for t, template in enumerate(_list(spec.get("templates"))):
        if not isinstance(template, dict):
            continue
        tpath = f"{path}.templates[{t}]"
        for single in ("container", "script"):
            if isinstance(template.get(single), dict):
                yield from _container_refs(template[single], f"{tpath}.{single}")
        for group in ("initContainers", "sidecars"):
            for i, container in enumerate(_list(template.get(group))):
                if isinstance(container, dict):
                    yield from _container_refs(container, f"{tpath}.{group}[{i}]")
        yield from _volume_refs(template.get("volumes"), tpath)


def workload_refs(obj: dict) -> tuple[str, Iterable[Ref]] | None:
    """(plane family, every Secret name the workload reads), or None for other kinds."""
    if type(obj) is Workload:
        return obj.refs
    api, kind = obj.get("apiVersion"), obj.get("kind")
    if (api, kind) in POD_SPEC_PATHS:
        path = POD_SPEC_PATHS[(api, kind)]
        return "data", pod_spec_refs(get(obj, *path), ".".join(path))
    if kind in ARGO_SPEC_PATHS and api == "argoproj.io/v1alpha1":
        path = ARGO_SPEC_PATHS[kind]
        return "build", _argo_refs(get(obj, *path), ".".join(path))
    return None


class Workload(dict):
    """A Kubernetes or Argo workload held as its identity (``apiVersion``, ``kind``, ``metadata``) and
    ``refs``, what :func:`workload_refs` found in it when it was read; its pod specs are not kept.

    How function mode holds a workload it passes through unchanged (:mod:`krm_fn.projection`): at the
    L benchmark, 20,000 pod specs took 37 MB even cut down to their secret fields.
    """

    __slots__ = ("refs",)

    def __init__(self, identity: dict, refs: tuple[str, tuple[Ref, ...]]):
        super().__init__(identity)
        self.refs = refs


def _is_secret_ref(inv: Inventory, home: str, name: str) -> bool:
    return (home, name) in inv.secret_refs or (home, name) in inv.invalid_secret_refs


def _workload_needs(obj: dict, inv: Inventory) -> Iterator[Need]:
    found = workload_refs(obj)
    if found is None:
        return
    family, refs = found
    home = home_namespace(obj)
    ns = krm.namespace(obj) or home
    for ref in refs:
        if _is_secret_ref(inv, home, ref.name):
            yield Need(obj, ref.field, ref.name, home, family, ns, ref.name, ref.key, ref.key_field, ref.optional)


def _warn_without_namespace(obj: dict, inv: Inventory, results: krm.Results) -> None:
    """A workload with no namespace (a kustomize base, say) cannot be matched to SecretReferences."""
    if home_namespace(obj):
        return
    found = workload_refs(obj)
    if found is None:
        return
    known = {name for _, name in inv.secret_refs} | {name for _, name in inv.invalid_secret_refs}
    for name, field, *_ in found[1]:
        if name in known:
            results.warning(f"{obj.get('kind')} has no metadata.namespace, so secret {name!r} cannot be matched to "
                            "a SecretReference; set the namespace (or the openchoreo.dev/namespace label) before "
                            "this function runs", obj, field)
            return


# --- OpenChoreo proposal consumers -----------------------------------------------


def _target_namespace(obj: dict) -> str:
    value = krm.annotations(obj).get(TARGET_NAMESPACE_ANNOTATION)
    return value if isinstance(value, str) and value else krm.namespace(obj)


def _build_needs(obj: dict, inv: Inventory) -> Iterator[Need]:
    name = _str(get(obj, "spec", "repository", "credentialsRef"))
    if name:
        yield Need(obj, "spec.repository.credentialsRef", name, home_namespace(obj), "build",
                   _target_namespace(obj), git_secret_name(krm.name(obj)), made_up=True)


def _service_class_refs(obj: dict) -> Iterator[Ref]:
    """The image pull secrets a ServiceClass's deployment template names."""
    path = ("spec", "deploymentTemplate", "template", "spec")
    spec = get(obj, *path)
    if isinstance(spec, dict):
        yield from _pull_secret_refs(spec, ".".join(path))


def _service_class_needs(obj: dict, inv: Inventory) -> Iterator[Need]:
    home = home_namespace(obj)
    for name, field, *_ in _service_class_refs(obj):
        if _is_secret_ref(inv, home, name):
            yield Need(obj, field, name, home, "data", _target_namespace(obj), name, fan_out=True)


def target_plane_needs(inv: Inventory) -> Iterator[Need]:
    for ref in inv.secret_refs.values():
        plane = ref.spec.target_plane
        if plane is not None:
            yield Need(ref.obj, "spec.targetPlane", ref.name, ref.namespace, plane.family, ref.namespace,
                       ref.name, plane=plane)


_OPENCHOREO_FINDERS: dict[str, Callable[[dict, Inventory], Iterator[Need]]] = {
    "Build": _build_needs,
    "ServiceClass": _service_class_needs,
}


def _inputs(items: list, inv: Inventory) -> Iterator[dict]:
    """The input objects that can consume secrets (not the ones we generated, nor items without a string
    apiVersion and kind: :func:`krm.check_items` reports those)."""
    for index, obj in enumerate(items):
        if isinstance(obj, dict) and index not in inv.owned and type(obj.get("apiVersion")) is str \
                and type(obj.get("kind")) is str:
            yield obj


def find(items: list, inv: Inventory, results: krm.Results) -> list[Need]:
    """Needs of Kubernetes/Argo workloads, Builds and ServiceClasses, in input order.

    OpenChoreo v1.x consumers (:mod:`krm_fn.releasebindings`,
    :mod:`krm_fn.workflowruns`) build on this module and are gathered by the
    pipeline, followed by :func:`target_plane_needs`.
    """
    needs: list[Need] = []
    for obj in _inputs(items, inv):
        if _home_is_wrong(obj, results):
            continue
        api = obj.get("apiVersion")
        finder = _OPENCHOREO_FINDERS.get(obj.get("kind")) if isinstance(api, str) and \
            krm.group(api) == "openchoreo.dev" else None
        needs.extend(finder(obj, inv) if finder else _workload_needs(obj, inv))
        if finder is None:
            _warn_without_namespace(obj, inv, results)
        if inv.renamed_secret_refs:
            _report_renamed(obj, inv, results)
    return needs


def _names_read(obj: dict) -> tuple[str, list[tuple[str, str]]]:
    """(the namespace its Secrets are read in, [(Secret name, field path)]) of a workload or ServiceClass, whether
    the names match a SecretReference or not (a Build's credentialsRef must name one: an error of its own)."""
    kind = obj.get("kind") if krm.group(obj["apiVersion"]) == "openchoreo.dev" else None
    if kind == "ServiceClass":
        return _target_namespace(obj), [(name, field) for name, field, *_ in _service_class_refs(obj)]
    found = workload_refs(obj) if kind is None else None
    names = [(name, field) for name, field, *_ in found[1]] if found is not None else []
    return krm.namespace(obj) or home_namespace(obj), names


def _report_renamed(obj: dict, inv: Inventory, results: krm.Results) -> None:
    """A consumer reading a Secret by the name a SecretReference had before kustomize renamed it (a namePrefix or
    nameSuffix applied before this function): nothing would be generated for it, silently, unless a user's
    ExternalSecret creates that Secret where the consumer reads it."""
    home = home_namespace(obj)
    namespace, names = _names_read(obj)
    for name, field in names:
        now = inv.renamed_secret_refs.get((home, name))
        if now is not None and not _is_secret_ref(inv, home, name) and \
                (namespace, name) not in inv.user_secret_names:
            results.error(f"secret {name!r} is SecretReference {home}/{name} before kustomize renamed it to {now!r} "
                          "(a namePrefix or nameSuffix applied before secretref-fn): no ExternalSecret would create "
                          "it; apply name prefixes and suffixes after secretref-fn, in a kustomization that uses the "
                          "one running it", obj, field)


@dataclass(frozen=True, slots=True)
class SecretName:
    """A Secret name a workload or ServiceClass reads, whether or not it is a SecretReference."""

    consumer: dict
    field: str
    name: str
    home_namespace: str
    namespace: str  # where the consumer reads the Secret


def secret_names(items: list, inv: Inventory) -> Iterator[SecretName]:
    """Every Secret name Kubernetes/Argo workloads and ServiceClasses read, in input order (for lint).

    Build credentials are not listed: a Build always names a SecretReference,
    so :func:`find` already turns every one into a need.
    """
    for obj in _inputs(items, inv):
        home = home_namespace(obj)
        if is_openchoreo(obj, "ServiceClass"):
            refs: Iterable[Ref] = _service_class_refs(obj)
            namespace = _target_namespace(obj)
        else:
            found = workload_refs(obj)
            refs = found[1] if found is not None else iter(())
            namespace = krm.namespace(obj) or home
        # A volume with several items repeats its name on one field: once is enough.
        for name, field in dict.fromkeys((ref.name, ref.field) for ref in refs):
            yield SecretName(obj, field, name, home, namespace)


def consumer_annotations(needs: list[Need]) -> dict[int, dict[str, str]]:
    """Annotations to write on consumers (by id of the object): Builds learn their secret's name."""
    out: dict[int, dict[str, str]] = {}
    for need in needs:
        if need.consumer.get("kind") == "Build" and need.field == "spec.repository.credentialsRef":
            out.setdefault(id(need.consumer), {})[CREDENTIALS_SECRET_ANNOTATION] = need.target_name
    return out
