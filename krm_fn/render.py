"""Step 4: render one ExternalSecret.

Pure function of (:class:`Content`, config): the target (plane, store,
namespace, name) and the data entries, each picked from a SecretReference.
Either a whole SecretReference is copied (``template_ref`` set: its template,
type and refresh interval apply), or entries are picked from one or more
SecretReferences under new keys (OpenChoreo's env-secrets and file
ExternalSecrets).  Every field ESO or the API server would default is written
explicitly, so Argo CD sees no drift; nothing empty or null is written.
``compatibility: upstream`` instead writes, for the OpenChoreo consumption
paths, exactly the fields OpenChoreo's own templates write.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

from . import config as fnconfig
from . import durations, krm, names, ownership
from .constants import (CHECKSUM_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLANE_ANNOTATION,
                        REGISTRY_SERVER_ANNOTATION, SOURCE_ANNOTATION)
from .inventory import DataItem, PlaneId, SecretRef, Store

DOCKER_HUB = "https://index.docker.io/v1/"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
_SERVER_KEYS = ("server", "registry")
_SAFE_SERVER = re.compile(r"^[A-Za-z0-9._:/@\[\]%+~-]+$")


class RenderError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Target:
    plane: PlaneId
    store: Store
    namespace: str
    name: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One ``data[]`` entry: ``item`` of SecretReference ``ref``, written under ``secret_key``."""

    secret_key: str
    ref: SecretRef
    item: DataItem


UPSTREAM_DATA = "data"  # OpenChoreo's data-plane templates (env-secrets, file secrets)
UPSTREAM_WORKFLOW = "workflow"  # OpenChoreo's workflow templates (<run>-git-secret)
UPSTREAM_REFRESH = "15s"  # hard-coded in OpenChoreo's templates


@dataclass(slots=True)
class Content:
    """What one ExternalSecret holds."""

    target: Target
    template_ref: SecretRef | None  # a whole SecretReference copied; None: entries picked under new keys
    entries: Sequence[Entry]  # a whole SecretReference's: one tuple shared by all its copies (plan.build)
    labels: Mapping[str, str] = field(default_factory=lambda: krm.EMPTY)
    upstream: str | None = None  # which OpenChoreo template this mirrors (for compatibility: upstream)
    # The Secret's name is one secretref-fn (as OpenChoreo) makes up (<build>-git-secret, a content-hash name),
    # not the name of the SecretReference a consumer reads: nothing else creates such a Secret.
    made_up: bool = False

    @property
    def sources(self) -> list[SecretRef]:
        """The SecretReferences used, first use first."""
        out: dict[int, SecretRef] = {}
        for entry in self.entries:
            out.setdefault(id(entry.ref), entry.ref)
        return list(out.values())

    @property
    def source(self) -> str:
        return ",".join(ref.source for ref in self.sources)


def escape_template(text: str) -> str:
    """Make ESO's Go template engine print ``text`` literally."""
    return text.replace("{{", '{{ "{{" }}')


# Keys the API server requires in a Secret of each type: (all of, any of).  A dockerconfigjson
# Secret's .dockerconfigjson may also be built from username/password (below).
_REQUIRED_KEYS = {
    "kubernetes.io/tls": (("tls.crt", "tls.key"), ()),
    "kubernetes.io/ssh-auth": (("ssh-privatekey",), ()),
    "kubernetes.io/dockercfg": ((".dockercfg",), ()),
    "kubernetes.io/basic-auth": ((), ("username", "password")),
}


# compatibility: upstream copies the keys as they are: nothing builds a .dockerconfigjson.
_UPSTREAM_REQUIRED_KEYS = {**_REQUIRED_KEYS, DOCKERCONFIGJSON: ((".dockerconfigjson",), ())}


def _check_required_keys(ref: SecretRef, table: dict = _REQUIRED_KEYS) -> None:
    """A typed Secret missing its required keys fails only at sync time, in the plane: refuse it here."""
    required = table.get(ref.spec.type)
    if required is None:
        return
    keys = ref.spec.keys()
    all_of, any_of = required
    if any(k not in keys for k in all_of) or (any_of and not any(k in keys for k in any_of)):
        need = " and ".join(all_of) if all_of else " or ".join(any_of)
        why = ("; compatibility: upstream copies the keys as they are, native builds it from username and "
               "password") if table is _UPSTREAM_REQUIRED_KEYS and ref.spec.type == DOCKERCONFIGJSON else ""
        raise RenderError(f"SecretReference {ref.source} of type {ref.spec.type} needs key {need} "
                          f"(Kubernetes refuses the Secret otherwise{why}); it has: {', '.join(keys)}", "spec.data")


def _registry_server(ref: SecretRef) -> str | None:
    """The Go template expression for the registry of a username/password dockerconfigjson reference
    (None for any other reference); RenderError when the reference cannot make one."""
    keys = ref.spec.keys()
    if ref.spec.type != DOCKERCONFIGJSON or ".dockerconfigjson" in keys:
        return None
    if "username" not in keys or "password" not in keys:
        raise RenderError(f"SecretReference {ref.source} of type {DOCKERCONFIGJSON} needs a '.dockerconfigjson' key, "
                          f"or 'username' and 'password' keys (it has: {', '.join(keys)})", "spec.data")
    server_key = next((k for k in _SERVER_KEYS if k in keys), None)
    if server_key is not None:
        return f".{server_key}"
    literal = krm.annotations(ref.obj).get(REGISTRY_SERVER_ANNOTATION, DOCKER_HUB)
    if not isinstance(literal, str) or not _SAFE_SERVER.match(literal):
        raise RenderError(f"annotation {REGISTRY_SERVER_ANNOTATION} must be a registry host or URL "
                          "(letters, digits and . : / @ - _ only)",
                          krm.field_key("metadata.annotations", REGISTRY_SERVER_ANNOTATION))
    return json.dumps(literal)


def _dockerconfig_template(ref: SecretRef) -> str | None:
    """The ``.dockerconfigjson`` template for username/password references, else None.

    Built with Sprig ``dict``/``toJson`` so a password holding quotes or
    backslashes still yields valid JSON.
    """
    server = _registry_server(ref)
    if server is None:
        return None
    return ('{{ dict "auths" (dict ' + server + ' (dict "username" .username "password" .password '
            '"auth" (printf "%s:%s" .username .password | b64enc))) | toJson }}')


def secret_keys(ref: SecretRef) -> list[str]:
    """The keys the resulting Kubernetes Secret will have."""
    if ref.spec.type == DOCKERCONFIGJSON and ".dockerconfigjson" not in ref.spec.keys():
        return [".dockerconfigjson"]
    return ref.spec.keys()


def creation_policy(content: Content, config: fnconfig.FunctionConfig) -> str:
    """The ``creationPolicy`` written: the config's, except ``Owner`` for a made-up name under ``Merge`` or
    ``None``, and always ``Owner`` in OpenChoreo's own templates (``compatibility: upstream``).

    *Decision:* with those two ESO creates no Secret, it expects one; a Secret of a made-up name never
    exists beforehand, so its consumer (a Deployment, a workflow) would wait for it forever."""
    if _upstream(content, config) or (config.creationPolicy in ("Merge", "None") and content.made_up):
        return "Owner"
    return config.creationPolicy


def _template(content: Content, merges: bool = False) -> dict:
    """The whole SecretReference's template; picked entries make an Opaque Secret.

    Picked entries are renamed (to env var names or file keys), so a typed
    Secret's required keys would not hold: the Secret is Opaque, as
    OpenChoreo's is, and carries the template labels and annotations of every
    source SecretReference (the first one wins on a clash).  ``merges``: into
    an existing Secret (creationPolicy Merge), whose type a type the
    SecretReference does not state would change (a Secret's type is
    immutable: ESO's update would be refused), so none is written then.
    """
    ref = content.template_ref
    template: dict = {"type": ref.spec.type if ref is not None else "Opaque",
                      "engineVersion": "v2", "mergePolicy": "Replace"}
    if merges and ref is not None and not ref.spec.type_declared:
        del template["type"]
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    for source in ([ref] if ref is not None else content.sources):
        for k, v in source.spec.labels.items():
            labels.setdefault(k, escape_template(v))
        for k, v in source.spec.annotations.items():
            annotations.setdefault(k, escape_template(v))
    metadata: dict = {}
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if metadata:
        template["metadata"] = metadata
    docker = _dockerconfig_template(ref) if ref is not None else None
    if docker is not None:
        template["data"] = {".dockerconfigjson": docker}
    return template


def _remote(item: DataItem, native: bool) -> dict:
    remote: dict = {"key": item.key}
    if item.property:
        remote["property"] = item.property
    if native:
        if item.version:
            remote["version"] = item.version
        remote.update(conversionStrategy="Default", decodingStrategy="None", metadataPolicy="None")
    return remote


def _data(content: Content, native: bool) -> list[dict]:
    return [{"secretKey": e.secret_key, "remoteRef": _remote(e.item, native)} for e in content.entries]


def _refresh(content: Content, config: fnconfig.FunctionConfig) -> dict:
    """The copied SecretReference's interval; for picked entries the shortest of their sources'.

    An interval of 0 means "no periodic refresh".  ESO alone would then never
    sync again, not even when the ExternalSecret changes in Git; so 0 is
    written with ``refreshPolicy: OnChange`` (ESO >= 0.16): sync on every
    change, never on a timer.  A positive interval of another source wins.
    """
    refs = [content.template_ref] if content.template_ref is not None else content.sources
    intervals = [fnconfig.canonical_refresh(config, r.spec.refresh_interval) for r in refs]
    periodic = [i for i in intervals if durations.parse(i) > 0]
    if periodic:
        return {"refreshInterval": min(periodic, key=durations.parse)}
    return {"refreshInterval": "0s", "refreshPolicy": "OnChange"}


def syncs_on_change_only(content: Content, config: fnconfig.FunctionConfig) -> bool:
    """Whether the ExternalSecret is written with ``refreshPolicy: OnChange`` (see :func:`_refresh`)."""
    return not _upstream(content, config) and "refreshPolicy" in _refresh(content, config)


def _native_spec(content: Content, config: fnconfig.FunctionConfig) -> dict:
    target = content.target
    return {
        **_refresh(content, config),
        "secretStoreRef": {"name": target.store.name, "kind": target.store.kind},
        "target": {
            "name": target.name,
            "creationPolicy": creation_policy(content, config),
            "deletionPolicy": config.deletionPolicy,
            "template": _template(content, creation_policy(content, config) == "Merge"),
        },
        "data": _data(content, native=True),
    }


def _upstream_spec(content: Content) -> dict:
    """Field for field what OpenChoreo's stock templates write (openchoreo-api.md section 8)."""
    target: dict = {"name": content.target.name, "creationPolicy": "Owner"}
    if content.upstream == UPSTREAM_WORKFLOW and content.template_ref is not None:
        target["template"] = {"type": content.template_ref.spec.type}
    return {
        "refreshInterval": UPSTREAM_REFRESH,
        "secretStoreRef": {"name": content.target.store.name, "kind": "ClusterSecretStore"},
        "target": target,
        "data": _data(content, native=False),
    }


def _upstream(content: Content, config: fnconfig.FunctionConfig) -> bool:
    return config.compatibility == "upstream" and content.upstream is not None


def check(content: Content, config: fnconfig.FunctionConfig) -> None:
    """Raise :class:`RenderError` if ``content`` cannot become a valid ExternalSecret; else render cannot fail."""
    ref = content.template_ref
    if ref is None:
        return
    if _upstream(content, config):
        if content.upstream == UPSTREAM_WORKFLOW:
            _check_required_keys(ref, _UPSTREAM_REQUIRED_KEYS)
        return
    if creation_policy(content, config) not in ("Merge", "None"):  # (merged into, or not written: the Secret
        _check_required_keys(ref)                                   # may hold the other keys)
    _registry_server(ref)


def path_of(target: Target, config: fnconfig.FunctionConfig) -> str:
    """The file the ExternalSecret for ``target`` is written to (kpt's path annotation)."""
    return names.externalsecret_path(config.outputDir, target.plane.kind, target.plane.name, target.namespace,
                                     target.name if config.fileLayout == "object" else None)


def file_indexes(contents: list[Content], config: fnconfig.FunctionConfig,
                 taken: Iterable[dict] = ()) -> list[int]:
    """Each ExternalSecret's position in its file (kpt's index annotation), in output order, skipping
    the positions ``taken`` objects hold in the same files (the input objects that stay: a hand-edited
    ExternalSecret kept as it is, one a user owns in a shared file)."""
    used: dict[str, set[str]] = {}
    for obj in taken:
        annotations = krm.annotations(obj)
        path = annotations.get(krm.PATH) or annotations.get(krm.LEGACY_PATH)
        if isinstance(path, str):
            index = annotations.get(krm.INDEX) or annotations.get(krm.LEGACY_INDEX) or "0"
            used.setdefault(path, set()).add(str(index))
    following: dict[str, int] = {}
    out = []
    for content in contents:
        path = path_of(content.target, config)
        index = following.get(path, 0)
        while str(index) in used.get(path, ()):
            index += 1
        out.append(index)
        following[path] = index + 1
    return out


def identity(target: Target) -> tuple[str, str, str, str]:
    """:func:`ownership.identity` of the ExternalSecret for ``target``, without rendering it."""
    return ("ExternalSecret", target.namespace, target.name, str(target.plane))


def external_secret(content: Content, config: fnconfig.FunctionConfig, index: int = 0) -> dict:
    """The ExternalSecret that materialises ``content`` as Secret ``target.name`` in one plane,
    ``index``-th in its file (see :func:`file_indexes`)."""
    check(content, config)
    target = content.target
    path = path_of(target, config)
    obj = {
        "apiVersion": config.externalSecretAPIVersion,
        "kind": "ExternalSecret",
        "metadata": {
            "name": target.name,
            "namespace": target.namespace,
            "labels": dict(sorted({**content.labels, MANAGED_BY_LABEL: MANAGED_BY_VALUE}.items())),
            "annotations": {
                PLANE_ANNOTATION: str(target.plane),
                SOURCE_ANNOTATION: content.source,
                CHECKSUM_ANNOTATION: "",  # set below, over everything else
                krm.PATH: path,  # kpt's internal annotations only: kyaml fills in the legacy
                krm.INDEX: str(index),  # copies itself (README, "Placement for kpt")
            },
        },
        "spec": _upstream_spec(content) if _upstream(content, config) else _native_spec(content, config),
    }
    obj["metadata"]["annotations"][CHECKSUM_ANNOTATION] = ownership.checksum(obj, plain=True)
    return obj


class Pending(krm.Deferred):
    """An ExternalSecret that is rendered when it is written: a large run never holds all of them as data
    (:func:`check` has passed, so rendering cannot fail)."""

    __slots__ = ("content", "config", "index")

    def __init__(self, content: Content, config: fnconfig.FunctionConfig, index: int):
        self.content = content
        self.config = config
        self.index = index

    def build(self) -> dict:
        return external_secret(self.content, self.config, self.index)
