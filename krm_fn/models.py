"""Typed views of the OpenChoreo resources we read, mirroring their CRDs.

Only ``spec`` is modelled; identity (name, namespace, file) comes from the
object itself.  Validation failures are turned into results naming the field
by :func:`validation_problems`.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import durations, krm, names

GROUP = "openchoreo.dev"

SecretType = Literal[
    "Opaque",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/dockercfg",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
    "kubernetes.io/tls",
    "bootstrap.kubernetes.io/token",
]
SECRET_TYPES = get_args(SecretType)  # the upstream CRD's enum

DATA_PLANE_KINDS = ("DataPlane", "ClusterDataPlane")
BUILD_PLANE_KINDS = ("BuildPlane", "ClusterBuildPlane", "WorkflowPlane", "ClusterWorkflowPlane")
PLANE_KINDS = DATA_PLANE_KINDS + BUILD_PLANE_KINDS
CLUSTER_PLANE_KINDS = ("ClusterDataPlane", "ClusterBuildPlane", "ClusterWorkflowPlane")


class _Strict(BaseModel):
    """Strict types and no unknown fields: a typo is an error, not a silent no-op."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class _Lenient(BaseModel):
    """Strict types, unknown fields ignored (planes carry much we do not read)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def check_duration(value: Optional[str]) -> Optional[str]:
    """A non-negative Go duration, or None; ValueError with a hint otherwise."""
    if value is None:
        return None
    try:
        ns = durations.parse(value)
    except durations.DurationError as exc:
        raise ValueError(f"{exc} (Go duration such as 1h, 30m or 15s; there is no 'd' unit)") from None
    if ns < 0:
        raise ValueError(f"duration {value!r} must not be negative")
    return value


def checked(check, message: str) -> AfterValidator:
    """A pydantic validator from a ``names.*_problem`` function; ``message`` formats {value!r} and {problem}."""
    def validate(value: str) -> str:
        problem = check(value)
        if problem:
            raise ValueError(message.format(value=value, problem=problem))
        return value
    return AfterValidator(validate)


# --- SecretReference -----------------------------------------------------------


class RemoteRef(_Strict):
    key: str = Field(min_length=1, description="Path of the secret in the store, e.g. secret/acme/orders/db.")
    property: Optional[str] = Field(None, description="Field inside that secret, e.g. password.")
    version: Optional[str] = Field(None, description="Store-specific version of the secret.")


class SecretDataItem(_Strict):
    secretKey: Annotated[str, checked(names.secret_key_problem, "secretKey {value!r} {problem}")] = Field(
        min_length=1, description="Key in the Kubernetes Secret (letters, digits, '-', '_', '.').")
    remoteRef: RemoteRef = Field(description="Where the value lives in the secret store.")


# The Secret ESO creates carries these: an invalid one would fail only at sync time, in the plane.
MetadataKey = Annotated[str, checked(names.qualified_name_problem, "key {value!r}: {problem}")]
LabelValue = Annotated[str, checked(names.label_value_problem, "label value {value!r}: {problem}")]


class TemplateMetadata(_Strict):
    labels: dict[MetadataKey, LabelValue] = Field(default_factory=dict)
    annotations: dict[MetadataKey, str] = Field(default_factory=dict)


class SecretTemplate(_Strict):
    type: SecretType = Field("Opaque", description="Type of the Kubernetes Secret.")
    metadata: TemplateMetadata = Field(default_factory=TemplateMetadata,
                                       description="Labels and annotations of the Kubernetes Secret.")


class PlaneRef(_Strict):
    kind: Literal["WorkflowPlane", "ClusterWorkflowPlane", "DataPlane", "ClusterDataPlane",
                  "BuildPlane", "ClusterBuildPlane"] = Field(description="Plane kind.")
    # A plane's name is an object name: anything else (a '/', a space) could not name a plane in the input.
    name: Annotated[str, checked(names.dns1123_subdomain_problem, "plane name {value!r} {problem}")] = Field(
        min_length=1, description="Plane name (in the SecretReference's namespace if namespaced).")


class SecretReferenceSpec(_Strict):
    template: SecretTemplate = Field(description="Shape of the Kubernetes Secret to create (may be {}).")
    data: list[SecretDataItem] = Field(min_length=1, description="Keys of the Secret and where each value lives.")
    refreshInterval: Optional[str] = Field(
        None, description="How often ESO re-reads the store (Go duration: 1h, 30m, 15s). Default: the function "
                          "config's defaultRefreshInterval (1h).")
    targetPlane: Optional[PlaneRef] = Field(
        None, description="Also deliver this secret to that plane, in this namespace, even without a consumer.")

    _check_interval = field_validator("refreshInterval")(check_duration)


# --- planes ----------------------------------------------------------------------


class SecretStoreRef(_Strict):
    name: str = Field(min_length=1, description="Name of the ESO store in the plane's cluster.")
    kind: Literal["SecretStore", "ClusterSecretStore"] = Field(
        "ClusterSecretStore", description="ESO store kind (upstream OpenChoreo always uses ClusterSecretStore).")


class PlaneSpec(_Lenient):
    secretStore: Optional[str] = Field(default=None, min_length=1, description=(
        "The proposal's form: name of an ESO SecretStore in the plane's cluster."))
    secretStoreRef: Optional[SecretStoreRef] = Field(None, description=(
        "Upstream's form: the ESO store the plane's External Secrets Operator reads from."))


# --- Environment -----------------------------------------------------------------


class DataPlaneRef(_Lenient):
    kind: Literal["DataPlane", "ClusterDataPlane"] = "DataPlane"
    name: str = Field(min_length=1)


class EnvironmentSpec(_Lenient):
    dataPlaneRef: Optional[Union[str, DataPlaneRef]] = None


# --- errors ----------------------------------------------------------------------


# The models' map fields; every other name in a pydantic ``loc`` is a field (tests/test_field_paths.py checks).
MAP_FIELDS = frozenset({"labels", "annotations"})


# What pydantic puts in ``loc`` besides field names: a union member's type, a validator's wrapper.
_LOC_MARKERS = frozenset({"str", "DataPlaneRef"})
_LOC_PREFIXES = ("function-", "union[")


def field_path(loc: tuple, prefix: str = "spec", keyed: bool = False, data: Any = None) -> str:
    """pydantic ``loc`` -> ``spec.data[0].remoteRef.key``; a map's key as Kubernetes writes it,
    ``spec.template.metadata.labels[app.kubernetes.io/name]`` (see :func:`krm.field_key`).
    ``keyed``: ``prefix`` is a map whose keys are the model's fields (a ConfigMap's ``data[mode]``).
    ``data``: what was validated, to write a key YAML read as a number, boolean or null as the input
    has it (pydantic's ``loc`` holds its repr, or 1 for true)."""
    path = prefix
    in_map = keyed
    node = data  # what the path names so far in ``data`` (None once it cannot be followed)
    for part in loc:
        if in_map and part != "[key]":
            key = _input_key(node, part)
            path = krm.field_key(path, key)
            node = node.get(key) if isinstance(node, dict) else None
            in_map = False
        elif isinstance(part, int) and not isinstance(node, dict):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif isinstance(node, dict) and type(key := _input_key(node, part)) is not str:
            path = krm.field_key(path, key)  # a key YAML read as a number, boolean or null (pydantic: its repr)
            node = node.get(key)
        elif part == "[key]":
            continue  # pydantic marks a dict key's own error; the key is already in the path
        elif isinstance(part, str) and part and part not in _LOC_MARKERS and not part.startswith(_LOC_PREFIXES):
            path += f".{part}" if path else part
            node = node.get(part) if isinstance(node, dict) else None
            in_map = part in MAP_FIELDS
    return path


def _other_branch(loc: tuple, data: Any) -> bool:
    """Whether an error is about a union's branch the input is not shaped for: a value given as a mapping
    is not meant as the ``str`` branch, a string not as a model's (pydantic reports every branch)."""
    node = data
    for part in loc:
        if isinstance(node, dict) and type(part) is str and part in node:  # a key of the input ("str" too)
            node = node[part]
            continue
        if part == "str" or (isinstance(part, str) and part[:1].isupper() and part.isidentifier()):
            if (part == "str") == isinstance(node, dict) or (part != "str" and isinstance(node, str)):
                return True
            continue
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return False
    return False


def _input_key(node: Any, part: Any) -> Any:
    """The key of the map ``node`` that pydantic's ``loc`` entry ``part`` stands for (else ``part``)."""
    if isinstance(node, dict):
        if type(part) is str and part in node:
            return part
        for key in node:
            if type(key) is not str and (key == part or repr(key) == part):
                return key
    return part


_MAPPING_TYPES = frozenset({"model_type", "model_attributes_type", "dict_type"})


def _value_at(data: Any, loc: tuple) -> tuple[bool, Any]:
    """(found, the input value) at pydantic's ``loc`` in ``data`` (its markers skipped)."""
    node = data
    for part in loc:
        if isinstance(node, dict):
            key = _input_key(node, part)
            if key in node:
                node = node[key]
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
            continue
        if not (isinstance(part, str) and (part in _LOC_MARKERS or part.startswith(_LOC_PREFIXES))):
            return False, None
    return True, node


def _message(error: dict, data: Any = None) -> str:
    kind = error.get("type", "")
    found, value = _value_at(data, tuple(error.get("loc", ()))) if data is not None else (False, None)
    if kind in _MAPPING_TYPES:  # (pydantic's message names our model class)
        return f"expected a mapping, found a {krm.type_name(value)}" if found else "expected a mapping"
    if kind == "string_type" and found and isinstance(value, (list, dict)):
        loc = tuple(error.get("loc", ()))
        parent = _value_at(data, loc[:-1])[1] if loc[-1:] == ("str",) else None
        union = loc[-1:] == ("str",) and not (isinstance(parent, dict) and "str" in parent)  # (not a key "str")
        return f"expected a string{' or a mapping' if union else ''}, found a {krm.type_name(value)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "invalid_key":
        return ("a field name must be a string; quote the key (YAML reads unquoted numbers, true/false and null "
                "otherwise)")
    if kind == "string_type":
        what = "key" if tuple(error.get("loc", ()))[-1:] == ("[key]",) else "value"
        return f"expected a string; quote the {what} (YAML reads unquoted numbers, dates and true/false otherwise)"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def validation_problems(exc: ValidationError, prefix: str = "spec", keyed: bool = False,
                        data: Any = None) -> list[tuple[str, str]]:
    """(field path, message) pairs, one per distinct field, in pydantic's order (see :func:`field_path`)."""
    seen: dict[str, str] = {}
    errors = exc.errors(include_url=False, include_input=False)
    fitting = [e for e in errors if not _other_branch(tuple(e.get("loc", ())), data)]
    for error in fitting or errors:
        path = field_path(tuple(error.get("loc", ())), prefix, keyed, data)
        seen.setdefault(path, _message(error, data))
    return list(seen.items())
