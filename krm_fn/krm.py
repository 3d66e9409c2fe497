"""KRM function types: ResourceList, object references and results.

Modelled on the Go ``fn`` SDK: items stay plain dicts (so everything we do not
own passes through untouched); these helpers read the few fields we need.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping

from . import limits, yamlio

RESOURCE_LIST_VERSIONS = ("config.kubernetes.io/v1", "config.kubernetes.io/v1beta1")
OUTPUT_VERSION = "config.kubernetes.io/v1"

# Annotations orchestrators set; kept exactly on inputs.
PATH = "internal.config.kubernetes.io/path"
INDEX = "internal.config.kubernetes.io/index"
LEGACY_PATH = "config.kubernetes.io/path"
LEGACY_INDEX = "config.kubernetes.io/index"
ID = "internal.config.kubernetes.io/id"
LEGACY_ID = "config.k8s.io/id"
SEQINDENT = "internal.config.kubernetes.io/seqindent"  # kpt only: how a file indents its lists
PACKAGE_PATH = "internal.config.kubernetes.io/package-path"  # kpt: the folder of an item's package
PREVIOUS_NAMES = "internal.config.kubernetes.io/previousNames"  # kustomize: names before its name transformers
LOCAL_CONFIG = "config.kubernetes.io/local-config"
ORCHESTRATOR_ANNOTATION_PREFIXES = ("internal.config.kubernetes.io/",)
ORCHESTRATOR_ANNOTATIONS = (LEGACY_PATH, LEGACY_INDEX, LEGACY_ID)

# The labels (or annotations) of a record that has none: one shared, read-only, mapping rather than
# an empty dict per record (tens of thousands of records in a large run).
EMPTY: Mapping[str, str] = MappingProxyType({})


# A Kptfile pipeline entry running this function: its exec's command or its image's name (tag and digest aside).
_THIS_FUNCTION = re.compile(r"(?:^|/)secretref-fn(?:[:@][^/]*)?$")


def runs_this_function(entry: dict) -> bool:
    """Whether a Kptfile pipeline entry runs secretref-fn (``exec`` or ``image``; its name runs nothing)."""
    command = entry.get("exec")
    if isinstance(command, str) and command.split():
        return _THIS_FUNCTION.search(command.split()[0]) is not None
    image = entry.get("image")
    return isinstance(image, str) and _THIS_FUNCTION.search(image.strip()) is not None


def mutates_with_this_function(kptfile: dict) -> bool:
    """Whether a Kptfile runs secretref-fn as a mutator (a validator generates nothing)."""
    return bool(entries_running_this_function(kptfile, ("mutators",)))


def entries_running_this_function(kptfile: dict, groups: tuple[str, ...] = ("mutators", "validators")) -> list[dict]:
    """A Kptfile's pipeline entries that run secretref-fn, in ``groups`` order (mutators, then validators)."""
    pipeline = kptfile.get("pipeline")
    if not isinstance(pipeline, dict):
        return []
    return [entry for group in groups if isinstance(pipeline.get(group), list)
            for entry in pipeline[group] if isinstance(entry, dict) and runs_this_function(entry)]


class InputError(Exception):
    """The stream is not a ResourceList we can process (no output possible)."""


# --- object access -------------------------------------------------------------


def metadata(obj: dict) -> dict:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def annotations(obj: dict) -> dict:
    ann = metadata(obj).get("annotations")
    return ann if isinstance(ann, dict) else {}


def labels(obj: dict) -> dict:
    lab = metadata(obj).get("labels")
    return lab if isinstance(lab, dict) else {}


def annotation_and_label(obj: dict, key: str) -> list[tuple[str, str, str]]:
    """(value, "annotation" or "label", field path) of ``key`` set as a non-empty string, the annotation first:
    OpenChoreo's keys may be either, and the two disagreeing is an error to their readers."""
    return [(value, what, field_key(f"metadata.{what}s", key))
            for what, source in (("annotation", annotations(obj)), ("label", labels(obj)))
            for value in (source.get(key),) if isinstance(value, str) and value]


def name(obj: dict) -> str:
    value = metadata(obj).get("name")
    return value if isinstance(value, str) else ""


def namespace(obj: dict) -> str:
    value = metadata(obj).get("namespace")
    return value if isinstance(value, str) else ""


def group(api_version: str) -> str:
    return api_version.split("/", 1)[0] if "/" in api_version else ""


_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def get_path(obj: Any, path: str) -> Any:
    """The value at a result-style field path (``spec.containers[0].env[1].name``), or None."""
    for key, index in _PATH_PART.findall(path):
        if key:
            obj = obj.get(key) if isinstance(obj, dict) else None
        else:
            i = int(index)
            obj = obj[i] if isinstance(obj, list) and i < len(obj) else None
        if obj is None:
            return None
    return obj


def without_annotations(obj: dict, drop) -> dict:
    """A copy of ``obj`` without the annotations whose key ``drop(key)`` accepts (``obj`` itself if none)."""
    ann = annotations(obj)
    if not any(drop(k) for k in ann):
        return obj
    out = dict(obj)
    meta = dict(metadata(obj))
    kept = {k: v for k, v in ann.items() if not drop(k)}
    if kept:
        meta["annotations"] = kept
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def is_local_config(obj: dict) -> bool:
    return str(annotations(obj).get(LOCAL_CONFIG, "")).lower() == "true"


@dataclass(frozen=True, order=True)
class ObjectRef:
    """``resourceRef`` of a result; also the identity of an input object."""

    apiVersion: str
    kind: str
    name: str
    namespace: str = ""

    @classmethod
    def of(cls, obj: dict) -> "ObjectRef":
        api = obj.get("apiVersion")
        kind = obj.get("kind")
        return cls(api if isinstance(api, str) else "", kind if isinstance(kind, str) else "",
                   name(obj), namespace(obj))

    def to_dict(self) -> dict:
        out = {"apiVersion": self.apiVersion, "kind": self.kind, "name": self.name}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind or '(no kind)'} {where}" if where else (self.kind or "(no kind)")


@dataclass(frozen=True)
class FileRef:
    path: str
    index: int = 0

    @classmethod
    def of(cls, obj: dict) -> "FileRef | None":
        ann = annotations(obj)
        path = ann.get(PATH) or ann.get(LEGACY_PATH)
        if not isinstance(path, str) or not path:
            return None
        raw = ann.get(INDEX, ann.get(LEGACY_INDEX, "0"))
        try:
            index = int(str(raw))
        except ValueError:
            index = 0
        return cls(path, index)


# --- results -------------------------------------------------------------------

SEVERITIES = ("error", "warning", "info")


def field_key(path: str, key: Any) -> str:
    """The entry ``key`` of the map at ``path``, written as Kubernetes writes field paths
    (``metadata.annotations[secretref-fn.openchoreo.dev/plane]``): a key is the user's text and
    may hold dots, so it is never joined to the path with one.  A key YAML read as a boolean or
    null is written as YAML writes it."""
    text = "true" if key is True else "false" if key is False else "null" if key is None else str(key)
    return f"{path}[{text}]"


@dataclass
class Result:
    message: str
    severity: str = "error"
    ref: ObjectRef | None = None
    field_path: str | None = None
    file: FileRef | None = None

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"message": self.message, "severity": self.severity}
        if self.ref is not None:
            out["resourceRef"] = self.ref.to_dict()
            if self.field_path:
                out["field"] = {"path": self.field_path}
        if self.file is not None:
            out["file"] = {"path": self.file.path, "index": self.file.index}
        return out

    def line(self) -> str:
        """``severity: Kind namespace/name field: message`` for terminals and logs."""
        parts = [f"{self.severity}:"]
        if self.ref is not None:
            parts.append(str(self.ref))
            if self.field_path:
                parts.append(self.field_path)
        text = " ".join(parts)
        text = f"{text}: {self.message}" if len(parts) > 1 else f"{text} {self.message}"
        if self.file is not None:
            text += f" (in {self.file.path})"
        return text


class Results(list):
    """The results of one run, with helpers to add them.

    ``containers`` maps an object that is an item of a ``List`` item (by id) to that List and its place
    there: a result on it gives the List's file, and its message says "(item 3 of List name)"."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.containers: dict[int, tuple[dict, int]] = {}

    def add(self, message: str, obj: dict | None = None, field: str | None = None,
            severity: str = "error") -> Result:
        file = FileRef.of(obj) if obj is not None else None
        inside = self.containers.get(id(obj)) if obj is not None and file is None else None
        if inside is not None:
            container, position = inside
            file = FileRef.of(container)
            message = f"{message} (item {position + 1} of List {name(container) or '(no name)'})"
        result = Result(message, severity, ObjectRef.of(obj) if obj is not None else None, field, file)
        self.append(result)
        return result

    def error(self, message: str, obj: dict | None = None, field: str | None = None) -> Result:
        return self.add(message, obj, field, "error")

    def warning(self, message: str, obj: dict | None = None, field: str | None = None) -> Result:
        return self.add(message, obj, field, "warning")

    @property
    def has_errors(self) -> bool:
        return any(r.severity == "error" for r in self)


# --- the ResourceList ------------------------------------------------------------


class Deferred:
    """An output item built only when it is written (:meth:`build`), so a large output is never all data."""

    __slots__ = ()

    def build(self) -> dict:
        raise NotImplementedError


def built(items: list) -> list:
    """``items`` with every :class:`Deferred` item built."""
    return [item.build() if isinstance(item, Deferred) else item for item in items]


@dataclass
class ResourceList:
    items: list  # objects; an output's may hold Deferred items (see built)
    function_config: dict | None = None
    results: Results = field(default_factory=Results)
    measure: limits.Measure | None = None  # what reading it took (checked against the config's limits)

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"apiVersion": OUTPUT_VERSION, "kind": "ResourceList", "items": built(self.items)}
        if self.function_config is not None:
            out["functionConfig"] = self.function_config
        if self.results:
            out["results"] = [r.to_dict() for r in self.results]
        return out


def parse_resource_list(text: str, measure: limits.Measure | None = None,
                        load: Callable[[str, limits.Measure], list] = yamlio.load_all) -> ResourceList:
    """Read one ResourceList (or ``kind: List``) from a YAML/JSON stream.

    Item-level problems (an item that is not an object, has no kind...) become
    results; only a stream that is not a ResourceList at all raises.
    ``measure`` (default: a new one) records size, depth and aliases.
    ``load`` reads and measures the documents (default :func:`yamlio.load_all`;
    the function's command line passes :meth:`fastio.Reader.load`).
    """
    measure = measure if measure is not None else limits.Measure(inputBytes=len(text))
    try:
        docs = [d for d in load(text, measure) if d is not None]
    except yamlio.YamlError as exc:
        raise InputError(str(exc)) from None
    if not docs:
        raise InputError("empty input: expected a ResourceList on stdin")
    if len(docs) > 1:
        raise InputError(f"expected one ResourceList, found {len(docs)} YAML documents "
                         "(to render plain manifests use: secretref-fn render PATH)")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise InputError(f"expected a ResourceList object, found a {type_name(doc)}")
    kind = doc.get("kind")
    api = doc.get("apiVersion")
    if kind == "ResourceList":
        if api not in RESOURCE_LIST_VERSIONS:
            raise InputError(f"{_unsupported('ResourceList', api)} "
                             f"(expected one of {', '.join(RESOURCE_LIST_VERSIONS)})")
    elif kind == "List":
        if api != "v1":
            raise InputError(f"{_unsupported('List', api)} (expected v1)")
    else:
        raise InputError(f"expected kind ResourceList, found {shown(kind)}")
    if "items" not in doc:
        raise InputError("ResourceList has no items field")
    items = doc.get("items")
    if items is None:
        items = []
    if not isinstance(items, list):
        raise InputError(f"ResourceList items must be a list, found a {type_name(items)}")
    config = doc.get("functionConfig")
    if config is not None and not isinstance(config, dict):
        raise InputError(f"functionConfig must be an object, found a {type_name(config)}")
    return ResourceList(items=items, function_config=config, measure=measure)


def is_list(obj: Any) -> bool:
    """A ``List`` with its ``items``: kubectl, kustomize and Argo CD read them as objects (so does ``render``,
    whatever its apiVersion; a List in a List too)."""
    return isinstance(obj, dict) and obj.get("kind") == "List" and isinstance(obj.get("items"), list)


def check_items(items: Iterable[Any], results: Results) -> None:
    """Report items the KRM spec does not allow; they still pass through."""
    for index, item in enumerate(items):
        check_item(item, f"items[{index}]", results)


def check_item(item: Any, where: str, results: Results) -> None:
    """Report an object the KRM spec does not allow (``where``: what to call it without a name)."""
    if not isinstance(item, dict):
        results.error(f"{where} is a {type_name(item)}, not a Kubernetes object")
        return
    kind = item.get("kind")
    label = f"{where} ({kind})" if isinstance(kind, str) and kind else where
    if "metadata" in item and not isinstance(item["metadata"], dict):
        results.error(f"{label}: metadata must be a mapping, found a {type_name(item['metadata'])}",
                      item, "metadata")
        return
    wrong = [f for f in ("apiVersion", "kind")
             if f in item and item[f] is not None and not isinstance(item[f], str)]
    for field in wrong:  # resourceRef holds what the item has, so kpt can still point at it (with its file)
        results.error(f"{label}: {field} must be a string, found a {type_name(item[field])}", item, field)
    missing = [f for f in ("apiVersion", "kind") if f not in wrong and not item.get(f)]
    if not name(item):
        missing.append("metadata.name")
    if missing:
        results.error(f"{label} has no {', '.join(missing)}", item, missing[0])


def has_namespace(obj: dict, results: Results) -> bool:
    """Whether an OpenChoreo consumer has a namespace (an error otherwise: its SecretReferences, Environment
    and Workloads are looked up there, so any other message would blame the wrong field)."""
    if namespace(obj):
        return True
    results.error(f"metadata.namespace is required for a {obj.get('kind')}: its SecretReferences are looked up "
                  "there", obj, "metadata.namespace")
    return False


def _unsupported(kind: str, api: Any) -> str:
    if api is None:
        return f"{kind} has no apiVersion"
    if isinstance(api, (str, yamlio.RawScalar)):
        return f"unsupported {kind} apiVersion {shown(api)}"
    return f"{kind} apiVersion must be a string, found {shown(api)}"


def shown(value: Any, quoted: bool = True) -> str:
    """A scalar of the input as a message shows it: a string quoted (``quoted``), a number or timestamp as
    written, true/false; anything else by its type ("a mapping"), "nothing" for null or missing (both in
    parentheses when not ``quoted``: "(a list)/ConfigMap")."""
    if isinstance(value, str):
        return repr(value) if quoted else value
    if isinstance(value, yamlio.RawScalar):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    what = "nothing" if value is None else f"a {type_name(value)}"
    return what if quoted else f"({what})"


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, yamlio.RawScalar):
        return "number" if value.tag != yamlio.TIMESTAMP else "timestamp"
    return type(value).__name__
