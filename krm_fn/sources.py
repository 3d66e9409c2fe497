"""Plain files in, plain manifests out: the I/O of ``secretref-fn render``.

Reading stamps each object with the same path/index annotations kpt would,
so results point at files; writing removes them again together with
local-config objects, which never reach a cluster.
"""
from __future__ import annotations

import os
import stat
import sys
from typing import Iterable, Iterator

from . import fastio, krm, limits, ownership, yamlio
from .config import CONFIG_API_VERSION, CONFIG_KIND
from .models import GROUP
from .constants import PLANE_ANNOTATION

YAML_SUFFIXES = (".yaml", ".yml", ".json")


class SourceError(krm.InputError):
    """Files or folders that cannot be read as input (reported like any unreadable input)."""


def _files(path: str, notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(file to read, path to record) pairs under ``path``, sorted.

    Files and folders whose names start with a dot are skipped, and
    ``.krmignore`` is not read.  kpt reads dot names and applies
    ``.krmignore``: in a kpt package (a ``Kptfile`` at ``path``) ``notes``
    gains a line for each place where the two differ.  Symbolic links to
    files are read, links to folders are not followed (as kpt reads a
    package); ``notes`` gains a line for each such link.
    """
    if os.path.isdir(path):
        found = []
        package = os.path.isfile(os.path.join(path, PACKAGE_FILE))
        for root, dirs, files in os.walk(path):
            if notes is not None and package:
                notes.extend(_kpt_differences(path, root, dirs, files))
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            if notes is not None:
                notes.extend(f"{os.path.relpath(os.path.join(root, d), path).replace(os.sep, '/')}/: a symbolic "
                             "link to a folder, not followed (nor by kpt): pass the folder itself to read it"
                             for d in dirs if os.path.islink(os.path.join(root, d)))
                if root != path and PACKAGE_FILE in files and _subpackage_runs_this_function(root):
                    notes.append(f"{os.path.relpath(root, path).replace(os.sep, '/')}/: a kpt package running "
                                 "secretref-fn itself, read here with this run's config (kpt renders it with its "
                                 "own): give its folder to render it as kpt does")
            for name in sorted(files):
                if name.endswith(YAML_SUFFIXES) and not name.startswith("."):
                    full = os.path.join(root, name)
                    found.append((full, os.path.relpath(full, path).replace(os.sep, "/")))
        return found
    if os.path.exists(path):  # a file, or a pipe or device (`<(kustomize build ...)`, /dev/stdin)
        return [(path, os.path.basename(path))]
    raise SourceError(f"{path}: no such file or directory")


PACKAGE_FILE = "Kptfile"


def _kptfile(folder: str) -> dict | None:
    """The Kptfile in ``folder`` (None: not one object); raises :class:`SourceError` when it cannot be read."""
    label = os.path.join(folder, PACKAGE_FILE)
    docs = _documents(_read_text(label), label)
    return docs[0] if len(docs) == 1 else None


def _subpackage_runs_this_function(folder: str) -> bool:
    """Whether the Kptfile in ``folder`` runs secretref-fn as a mutator (an unreadable one: no)."""
    try:
        kptfile = _kptfile(folder)
    except (SourceError, limits.LimitError):
        return False
    return kptfile is not None and krm.mutates_with_this_function(kptfile)


def _kpt_differences(top: str, root: str, dirs: list[str], files: list[str]) -> Iterator[str]:
    """Where reading the folder ``root`` of the kpt package ``top`` differs from kpt's reading of it."""
    def where(name: str) -> str:
        return os.path.relpath(os.path.join(root, name), top).replace(os.sep, "/")

    if ".krmignore" in files and (root == top or PACKAGE_FILE in files):  # (kpt reads it at package roots only)
        yield (f"{where('.krmignore')}: not applied here (kpt applies it): the files it lists are read, "
               "pass this command the folders to read instead")
    for name in files:
        if name.startswith(".") and name.endswith(YAML_SUFFIXES):
            yield f"{where(name)}: skipped, as every name starting with a dot (kpt reads it)"
    for name in dirs:
        if name.startswith(".") and name != ".git":
            yield f"{where(name)}/: skipped, as every name starting with a dot (kpt reads YAML files there)"


def _documents(text: str, label: str, measure: limits.Measure | None = None,
               memo: dict[str, str] | None = None) -> list:
    """The objects of one file (a ``List`` unwrapped); ``memo`` shares strings across files."""
    fast = fastio.load_document(text, measure, memo)  # yaml_rs, when it reads the text as yamlio would
    if fast is not None:
        docs = list(enumerate(fast, 1))
    else:
        try:  # (numbered as the user counts them: empty documents too)
            docs = [(n, d) for n, d in enumerate(yamlio.load_all(text, measure), 1) if d is not None]
        except yamlio.YamlError as exc:
            raise SourceError(f"{label}: {exc}") from None
    out = []
    for position, doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "ResourceList" \
                and doc.get("apiVersion") in krm.RESOURCE_LIST_VERSIONS:
            how = "pipe it to secretref-fn" if label == "-" else f"run secretref-fn < {label}"
            raise SourceError(f"{label}: a ResourceList is the function's input: {how} "
                              "(or give this command the files its items come from)")
        if krm.is_list(doc):
            objects = list(enumerate(doc["items"], 1))
            where = "List item"
        else:
            objects = [(position, doc)]
            where = "document"
        for number, obj in objects:
            # (the function reports such an item by its index in the ResourceList; here the file says where)
            if not isinstance(obj, dict):
                raise SourceError(f"{label}: {where} {number} is a {krm.type_name(obj)}, not a Kubernetes object")
            if obj.get("metadata") is not None and not isinstance(obj["metadata"], dict):
                raise SourceError(f"{label}: {where} {number}: metadata must be a mapping, found a "
                                  f"{krm.type_name(obj['metadata'])}")
            out.append(obj)
    return out


def _decode(data: bytes, label: str, measure: limits.Measure | None) -> str:
    try:
        limits.check_bytes(len(data), measure)
        return yamlio.decode(data)
    except (yamlio.YamlError, limits.LimitError) as exc:
        raise SourceError(f"{label}: {exc}") from None


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return limits.read_capped(handle)  # never more than the cap in memory
    except OSError as exc:
        raise SourceError(f"{path}: {exc.strerror}") from None


def _read_text(path: str, measure: limits.Measure | None = None) -> str:
    return _decode(_read_bytes(path), path, measure)


def _stamp(obj, path: str, index: int):
    if not isinstance(obj, dict):
        return obj
    meta = obj.get("metadata")
    if meta is None:
        meta = obj["metadata"] = {}
    if not isinstance(meta, dict):
        return obj
    ann = meta.get("annotations")
    if ann is None:
        ann = meta["annotations"] = {}
    if isinstance(ann, dict):
        ann[krm.PATH] = path
        ann[krm.INDEX] = str(index)
    return obj


def read_paths(paths: Iterable[str], measure: limits.Measure | None = None,
               notes: list[str] | None = None) -> list:
    """Every object in the given files and folders ('-' is stdin), annotated with its file: relative to
    the one folder given (as kpt records it), or, given several paths, as found (``a/x.yaml``, ``b/x.yaml``).

    ``measure`` adds up what was read, for :func:`pipeline.check_limits`; ``notes`` gains where a kpt
    package is read otherwise than kpt reads it (see :func:`_files`).
    """
    items: list = []
    memo: dict[str, str] = {}
    paths = list(paths)
    several = len(paths) > 1  # then a file is recorded by its path as found, not relative to its argument
    for path in paths:
        if path == "-":
            stdin_text = _decode(limits.read_capped(sys.stdin.buffer), "stdin", measure)  # as files
            sources = [("-", "-" if several else "stdin.yaml", stdin_text)]  # (several: as errors name it)
        else:
            sources = [(full, os.path.normpath(full).replace(os.sep, "/") if several else label, None)
                       for full, label in _files(path, notes)]
        for full, label, text in sources:
            text = text if text is not None else _read_text(full, measure)
            for index, doc in enumerate(_documents(text, full, measure, memo)):
                items.append(_stamp(doc, label, index))
    return items


def first_secret_reference(path: str) -> str | None:
    """The first file under ``path`` (in the order :func:`_files` reads them) holding a SecretReference as
    :func:`read_paths` reads it (a document or a List's item of kind SecretReference in openchoreo.dev), as
    a path relative to ``path``; None when there is none.

    Only regular files whose text holds the word ``SecretReference`` are parsed (the others cannot hold
    one, and a large repository is not parsed for nothing).  Such a file that cannot be read counts as
    holding one: the plugin's generate then runs and reports the problem.
    """
    for full, label in _files(path):
        try:
            if not stat.S_ISREG(os.stat(full).st_mode):
                continue  # (a FIFO or a device would block; git stores neither)
            data = _read_bytes(full)
        except (OSError, SourceError):
            continue
        if b"SecretReference" not in data:
            continue
        try:
            docs = _documents(_decode(data, full, None), full)
        except (SourceError, limits.LimitError):
            return label
        for doc in docs:
            api = doc.get("apiVersion")
            if doc.get("kind") == "SecretReference" and isinstance(api, str) and krm.group(api) == GROUP:
                return label
    return None


def read_config(path: str) -> dict:
    docs = [d for d in _documents(_read_text(path), path)]
    if len(docs) != 1 or not isinstance(docs[0], dict):
        raise SourceError(f"{path}: expected exactly one function config object")
    return docs[0]


def is_config(obj) -> bool:
    """A SecretFanout of any fn.openchoreo.dev version: a wrong version is reported, not ignored."""
    api = obj.get("apiVersion") if isinstance(obj, dict) else None
    return isinstance(api, str) and obj.get("kind") == CONFIG_KIND and krm.group(api) == krm.group(CONFIG_API_VERSION)


def find_config(items: list) -> dict | None:
    configs = [o for o in items if is_config(o)]
    if len(configs) > 1:
        where = ", ".join(str(krm.FileRef.of(c).path) for c in configs if krm.FileRef.of(c))
        raise SourceError(f"found {len(configs)} {CONFIG_KIND} objects ({where}); keep one or pass --config")
    return configs[0] if configs else None


def function_config(paths: Iterable[str], items: list, notes: list[str] | None = None) -> dict | None:
    """The function config of a run over ``paths``: in a kpt package whose Kptfile runs secretref-fn, the
    one kpt gives it (:func:`kpt_function_config`); otherwise the one SecretFanout among the files."""
    paths = list(paths)
    if len(paths) == 1 and os.path.isfile(os.path.join(paths[0], PACKAGE_FILE)):
        named, config = kpt_function_config(paths[0], notes)
        if named:
            return config
    return find_config(items)


def kpt_function_config(package: str, notes: list[str] | None = None) -> tuple[bool, dict | None]:
    """(whether the package's Kptfile runs secretref-fn, the function config kpt passes it).

    The first mutator running secretref-fn (by ``exec`` or ``image``), else the first validator: its
    ``configPath`` (a file of the package) or ``configMap`` (a ConfigMap ``function-input`` of strings,
    as kpt builds it), or no config; a validator's with ``mode: validate`` (kpt keeps nothing a validator
    writes).  ``selectors``/``exclude`` are not applied here: a note says so.
    """
    label = os.path.join(package, PACKAGE_FILE)
    kptfile = _kptfile(package)
    entries = krm.entries_running_this_function(kptfile) if kptfile is not None else []
    if not entries:
        return False, None
    named, config = _entry_config(package, label, entries[0], notes)
    if not krm.mutates_with_this_function(kptfile):
        config = _validating(config)  # kpt never writes a validator's output: generate nothing, as kpt does
    return named, config


def _validating(config: dict | None) -> dict:
    """``config`` with ``mode: validate`` (a validator's: kpt keeps none of its output)."""
    if config is None:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"},
                "data": {"mode": "validate"}}
    field = "data" if config.get("kind") == "ConfigMap" else "spec"
    values = config.get(field)
    if values is None or isinstance(values, dict):  # (anything else is reported as the config's error)
        config = {**config, field: {**(values or {}), "mode": "validate"}}
    return config


def _entry_config(package: str, label: str, entry: dict, notes: list[str] | None) -> tuple[bool, dict | None]:
    """(True, the config kpt passes the pipeline ``entry``), read as :func:`kpt_function_config` says."""
    if notes is not None and (entry.get("selectors") or entry.get("exclude")):
        notes.append(f"{PACKAGE_FILE}: selectors and exclude of secretref-fn are not applied here (kpt applies "
                     "them): every object of the package is read")
    path, values = entry.get("configPath"), entry.get("configMap")
    if path is not None and values is not None:  # (kpt refuses the entry too)
        raise SourceError(f"{label}: secretref-fn's entry sets both configPath and configMap; kpt takes one")
    if path is not None and not (isinstance(path, str) and path):
        found = "an empty string" if path == "" else f"a {krm.type_name(path)}"
        raise SourceError(f"{label}: configPath must be a file name, found {found}")
    if values is not None and not isinstance(values, dict):
        raise SourceError(f"{label}: configMap must be a mapping of strings, found a {krm.type_name(values)}")
    if path is not None:
        full = os.path.normpath(os.path.join(package, path))
        relative = os.path.relpath(full, package)
        if relative == os.pardir or relative.startswith(os.pardir + os.sep):  # (not a name "..x")
            raise SourceError(f"{label}: configPath {path} is outside the package")
        if not os.path.isfile(full):
            raise SourceError(f"{label}: configPath {path}: no such file in the package")
        return True, read_config(full)
    if isinstance(values, dict):
        return True, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "function-input"},
                      "data": {str(k): _kpt_string(v, label, k) for k, v in values.items()}}
    return True, None


def _kpt_string(value, label: str, key) -> str:
    """A configMap value as kpt passes it: the text of a scalar (kpt reads the map as strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, yamlio.RawScalar):
        return value.text
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    raise SourceError(f"{label}: configMap value of {key} is a {krm.type_name(value)}: kpt takes only strings "
                      "there (use configPath for a list or mapping)")


def _strip(obj: dict) -> dict:
    return krm.without_annotations(
        obj, lambda k: k.startswith(krm.ORCHESTRATOR_ANNOTATION_PREFIXES) or k in krm.ORCHESTRATOR_ANNOTATIONS)


def to_apply(items: list, plane: str | None = None) -> list:
    """The objects a cluster should receive, without orchestrator annotations."""
    out = []
    for obj in items:
        if not isinstance(obj, dict) or krm.is_local_config(obj) or is_config(obj):
            continue
        if plane is not None:
            ours = ownership.is_owned(obj)
            if not ours or krm.annotations(obj).get(PLANE_ANNOTATION) != plane:
                continue
        out.append(_strip(obj))
    return out


def same_object_twice(objects: list) -> list[str]:
    """Objects that appear more than once (one ExternalSecret rendered for several planes)."""
    seen: dict[tuple, int] = {}
    for obj in objects:
        ref = krm.ObjectRef.of(obj)
        key = (krm.group(ref.apiVersion), ref.kind, ref.namespace, ref.name)
        seen[key] = seen.get(key, 0) + 1
    return [f"{kind} {ns}/{name}" if ns else f"{kind} {name}" for (_, kind, ns, name), n in seen.items() if n > 1]
