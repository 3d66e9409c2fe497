"""The function config: a typed ``SecretFanout`` or a ``ConfigMap`` of strings."""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import durations, krm, limits, models, names
from .krm import Results, field_key, type_name
from .yamlio import INT, RawScalar

CONFIG_API_VERSION = "fn.openchoreo.dev/v1alpha1"
CONFIG_KIND = "SecretFanout"


class FunctionConfig(BaseModel):
    """Settings of one run; every field has a default, so no config is fine."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    planes: list[str] = Field(default_factory=list, description=(
        "Only emit ExternalSecrets for these planes: 'Kind/name' (cluster-scoped) or "
        "'Kind/namespace/name'. Empty means every plane."))
    externalSecretAPIVersion: Literal["external-secrets.io/v1", "external-secrets.io/v1beta1"] = Field(
        "external-secrets.io/v1", description="apiVersion of generated ExternalSecrets (v1beta1 only for ESO <= 0.16).")
    defaultRefreshInterval: str = Field(
        "1h", description="refreshInterval for SecretReferences that set none (Go duration).")
    outputDir: Annotated[str, models.checked(names.output_dir_problem, "outputDir {problem}")] = Field(
        "planes", description="Package folder the generated files are placed under.")
    fileLayout: Literal["namespace", "object"] = Field("namespace", description=(
        "'namespace': one file per plane and namespace (<outputDir>/<plane kind>/<plane>/<namespace>/"
        "externalsecrets.yaml, ordered by name); 'object': one file per ExternalSecret (.../<namespace>/"
        "externalsecret_<name>.yaml), many more files for kpt to write on a large platform."))
    plaintextSecrets: Literal["error", "warning", "allow"] = Field(
        "error", description="What an input core/v1 Secret carrying data or stringData is.")
    creationPolicy: Literal["Owner", "Orphan", "Merge", "None"] = Field(
        "Owner", description="spec.target.creationPolicy of generated ExternalSecrets.")
    deletionPolicy: Literal["Retain", "Delete", "Merge"] = Field(
        "Retain", description="spec.target.deletionPolicy of generated ExternalSecrets.")
    compatibility: Literal["native", "upstream"] = Field("native", description=(
        "For ReleaseBindings and WorkflowRuns: 'native' honours the SecretReference's refreshInterval, template "
        "metadata and remoteRef.version and writes ESO's defaults; 'upstream' writes exactly what OpenChoreo's "
        "templates write (refreshInterval 15s, no template, no version)."))
    output: Literal["all", "generated"] = Field(
        "all", description="'all': inputs pass through plus generated objects; 'generated': only generated objects.")
    mode: Literal["render", "validate"] = Field(
        "render", description="'render': generate ExternalSecrets; 'validate': change nothing, only report every "
                              "problem plus lint warnings (for a kpt validators: entry).")
    maxInputBytes: int = Field(limits.DEFAULTS.maxInputBytes, ge=1, le=limits.CAPS.maxInputBytes,
                               description="Largest input, in bytes.")
    maxDepth: int = Field(limits.DEFAULTS.maxDepth, ge=1, le=limits.CAPS.maxDepth,
                          description="Deepest nesting of mappings and lists in the input.")
    maxAliases: int = Field(limits.DEFAULTS.maxAliases, ge=0, le=limits.CAPS.maxAliases,
                            description="Most YAML nodes that aliases (*name) may expand to, over the whole input.")

    @field_validator("defaultRefreshInterval")
    @classmethod
    def _duration(cls, value: str) -> str:
        return models.check_duration(value) or value

    @field_validator("outputDir", mode="before")
    @classmethod
    def _folder(cls, value: Any) -> Any:
        """``./planes`` and ``planes/`` are ``planes`` (as kpt cleans paths); other odd segments are errors."""
        if isinstance(value, str):
            clean = value
            while clean.startswith("./"):
                clean = clean[2:]
            clean = clean[:-1] if clean.endswith("/") and not clean.endswith("//") else clean
            if clean and not clean.startswith("/"):  # (else the value's own problem is the one to report)
                return clean
        return value


    @model_validator(mode="after")
    def _policies(self) -> "FunctionConfig":
        # ESO's webhook rules (externalsecret_validator.go).
        if self.deletionPolicy == "Delete" and self.creationPolicy != "Owner":
            raise ValueError("deletionPolicy Delete needs creationPolicy Owner (ESO rejects it otherwise)")
        if self.deletionPolicy == "Merge" and self.creationPolicy == "None":
            raise ValueError("deletionPolicy Merge cannot be used with creationPolicy None (ESO rejects it)")
        return self

    @field_validator(*limits.FIELDS, mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        # YAML numbers arrive as RawScalar text, ConfigMap values as strings.
        text = value.text if isinstance(value, RawScalar) and value.tag == INT else value
        if isinstance(text, str):
            if not re.fullmatch(r"[0-9]{1,12}", text.strip()):
                raise ValueError(f"must be a whole number of at most 12 digits, found {text!r}")
            return int(text)
        return value

    @field_validator("planes")
    @classmethod
    def _planes(cls, value: list[str]) -> list[str]:
        for entry in value:
            problem = plane_selector_problem(entry)
            if problem:
                raise ValueError(f"{entry!r}: {problem}")
        return value


def plane_selector_problem(value: str) -> str | None:
    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        return "expected 'Kind/name' or 'Kind/namespace/name'"
    if parts[0] not in models.PLANE_KINDS:
        return f"unknown plane kind {parts[0]!r} (one of {', '.join(models.PLANE_KINDS)})"
    if len(parts) == 3 and parts[0] in models.CLUSTER_PLANE_KINDS:
        return f"{parts[0]} is cluster-scoped: write '{parts[0]}/{parts[2]}'"
    if len(parts) == 2 and parts[0] not in models.CLUSTER_PLANE_KINDS:
        return f"{parts[0]} is namespaced: write '{parts[0]}/<namespace>/{parts[1]}'"
    return None


# ConfigMap values are strings; these fields are lists of comma-separated values.
_LIST_FIELDS = {"planes"}


def _from_configmap(data: Any, results: Results, obj: dict) -> dict | None:
    if data is None:
        return {}
    if not isinstance(data, dict):
        results.error(f"function config data must be a mapping, found a {type_name(data)}", obj, "data")
        return None
    values: dict[str, Any] = {}
    ok = True
    for key, value in data.items():
        if not isinstance(value, str):
            results.error(f"ConfigMap values are strings; quote the value of {key!r}", obj, field_key("data", key))
            ok = False
            continue
        values[key] = [p.strip() for p in value.split(",") if p.strip()] if key in _LIST_FIELDS else value
    return values if ok else None


def load(function_config: dict | None, results: Results) -> FunctionConfig | None:
    """The run's settings, or None (with error results) when the config is invalid."""
    if function_config is None:
        return FunctionConfig()
    kind = function_config.get("kind")
    api = function_config.get("apiVersion")
    if kind == "ConfigMap" and api == "v1":
        values = _from_configmap(function_config.get("data"), results, function_config)
        prefix, keyed = "data", True
    elif kind == CONFIG_KIND and api == CONFIG_API_VERSION:
        spec = function_config.get("spec")
        if spec is not None and not isinstance(spec, dict):
            results.error(f"spec must be a mapping, found a {type_name(spec)}", function_config, "spec")
            return None
        stray = [k for k in function_config if k not in ("apiVersion", "kind", "metadata", "spec")]
        for key in stray:
            results.error(f"unknown field {key!r}: {CONFIG_KIND} settings go under spec", function_config, key)
        if stray:
            return None
        values = dict(spec or {})
        prefix, keyed = "spec", False
    else:
        known_kind = kind in (CONFIG_KIND, "ConfigMap")  # then the apiVersion is what is wrong
        results.error(f"unsupported function config {krm.shown(api, False)}/{krm.shown(kind, False)}: use "
                      f"{CONFIG_API_VERSION} {CONFIG_KIND} or a v1 ConfigMap", function_config,
                      "apiVersion" if known_kind else "kind")
        return None
    if values is None:
        return None
    try:
        return FunctionConfig.model_validate(values)
    except ValidationError as exc:
        for path, message in models.validation_problems(exc, prefix, keyed, values):
            results.error(f"invalid function config: {message}", function_config, path)
        return None


def setting_path(function_config: dict, name: str) -> str:
    """The field path of setting ``name``: ``data[planes]`` in a ConfigMap, ``spec.planes`` in a SecretFanout."""
    return field_key("data", name) if function_config.get("kind") == "ConfigMap" else f"spec.{name}"


def limits_of(function_config: dict | None) -> limits.Limits:
    """The limits a function config sets (the defaults when it is absent or invalid)."""
    config = load(function_config, Results()) or FunctionConfig()
    return limits.Limits(config.maxInputBytes, config.maxDepth, config.maxAliases)


def canonical_refresh(config: FunctionConfig, value: str | None) -> str:
    return durations.canonical(value if value is not None else config.defaultRefreshInterval)
