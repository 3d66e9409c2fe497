"""Step 4: render one ExternalSecret.

Pure function of (plane, store, namespace, name, SecretReference, config).
Every field ESO or the API server would default is written explicitly, so
Argo CD sees no drift; nothing empty or null is written.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from . import config as fnconfig
from . import krm, names
from .constants import (MANAGED_BY_LABEL, MANAGED_BY_VALUE, PLANE_ANNOTATION, REGISTRY_SERVER_ANNOTATION,
                        SOURCE_ANNOTATION)
from .inventory import PlaneId, SecretRef, Store

DOCKER_HUB = "https://index.docker.io/v1/"
DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
_SERVER_KEYS = ("server", "registry")
_SAFE_SERVER = re.compile(r"^[A-Za-z0-9._:/@\[\]%+~-]+$")


class RenderError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Target:
    plane: PlaneId
    store: Store
    namespace: str
    name: str


def escape_template(text: str) -> str:
    """Make ESO's Go template engine print ``text`` literally."""
    return text.replace("{{", '{{ "{{" }}')


def _dockerconfig_template(ref: SecretRef) -> str | None:
    """The ``.dockerconfigjson`` template for username/password references, else None.

    Built with Sprig ``dict``/``toJson`` so a password holding quotes or
    backslashes still yields valid JSON.
    """
    keys = ref.spec.keys()
    if ref.spec.template.type != DOCKERCONFIGJSON or ".dockerconfigjson" in keys:
        return None
    if "username" not in keys or "password" not in keys:
        raise RenderError(f"SecretReference {ref.source} of type {DOCKERCONFIGJSON} needs a '.dockerconfigjson' key, "
                          f"or 'username' and 'password' keys (it has: {', '.join(keys)})", "spec.data")
    server_key = next((k for k in _SERVER_KEYS if k in keys), None)
    if server_key is not None:
        server = f".{server_key}"
    else:
        literal = krm.annotations(ref.obj).get(REGISTRY_SERVER_ANNOTATION, DOCKER_HUB)
        if not isinstance(literal, str) or not _SAFE_SERVER.match(literal):
            raise RenderError(f"annotation {REGISTRY_SERVER_ANNOTATION} must be a registry host or URL "
                              "(letters, digits and . : / @ - _ only)",
                              f"metadata.annotations.{REGISTRY_SERVER_ANNOTATION}")
        server = json.dumps(literal)
    return ('{{ dict "auths" (dict ' + server + ' (dict "username" .username "password" .password '
            '"auth" (printf "%s:%s" .username .password | b64enc))) | toJson }}')


def secret_keys(ref: SecretRef) -> list[str]:
    """The keys the resulting Kubernetes Secret will have."""
    if ref.spec.template.type == DOCKERCONFIGJSON and ".dockerconfigjson" not in ref.spec.keys():
        return [".dockerconfigjson"]
    return ref.spec.keys()


def _template(ref: SecretRef) -> dict:
    template: dict = {"type": ref.spec.template.type, "engineVersion": "v2", "mergePolicy": "Replace"}
    meta = ref.spec.template.metadata
    metadata: dict = {}
    if meta.labels:
        metadata["labels"] = {k: escape_template(v) for k, v in meta.labels.items()}
    if meta.annotations:
        metadata["annotations"] = {k: escape_template(v) for k, v in meta.annotations.items()}
    if metadata:
        template["metadata"] = metadata
    docker = _dockerconfig_template(ref)
    if docker is not None:
        template["data"] = {".dockerconfigjson": docker}
    return template


def _data(ref: SecretRef) -> list[dict]:
    out = []
    for item in ref.spec.data:
        remote: dict = {"key": item.remoteRef.key}
        if item.remoteRef.property:
            remote["property"] = item.remoteRef.property
        if item.remoteRef.version:
            remote["version"] = item.remoteRef.version
        remote.update(conversionStrategy="Default", decodingStrategy="None", metadataPolicy="None")
        out.append({"secretKey": item.secretKey, "remoteRef": remote})
    return out


def external_secret(target: Target, ref: SecretRef, config: fnconfig.FunctionConfig) -> dict:
    """The ExternalSecret that materialises ``ref`` as Secret ``target.name`` in one plane."""
    path = names.externalsecret_path(config.outputDir, target.plane.kind, target.plane.name,
                                     target.namespace, target.name)
    return {
        "apiVersion": config.externalSecretAPIVersion,
        "kind": "ExternalSecret",
        "metadata": {
            "name": target.name,
            "namespace": target.namespace,
            "labels": {MANAGED_BY_LABEL: MANAGED_BY_VALUE},
            "annotations": {
                PLANE_ANNOTATION: str(target.plane),
                SOURCE_ANNOTATION: ref.source,
                krm.PATH: path,
                krm.INDEX: "0",
                krm.LEGACY_PATH: path,
                krm.LEGACY_INDEX: "0",
            },
        },
        "spec": {
            "refreshInterval": fnconfig.canonical_refresh(config, ref.spec.refreshInterval),
            "secretStoreRef": {"name": target.store.name, "kind": target.store.kind},
            "target": {
                "name": target.name,
                "creationPolicy": config.creationPolicy,
                "deletionPolicy": config.deletionPolicy,
                "template": _template(ref),
            },
            "data": _data(ref),
        },
    }
