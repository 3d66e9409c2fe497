"""Kubernetes name rules, and the file paths generated objects are written to."""
from __future__ import annotations

import hashlib
import re

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECRET_KEY = re.compile(r"^(?!\.\.)[-._a-zA-Z0-9]+$")  # (Kubernetes IsConfigMapKey: no ".." prefix either)
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def _problem(value: str, longest: int, pattern: re.Pattern, rule: str, excluded: tuple = ()) -> str | None:
    """Empty, too long (checked first: no pattern runs on a huge value), or not matching ``pattern``."""
    if not value:
        return "must not be empty"
    if len(value) > longest:
        return f"must be at most {longest} characters (has {len(value)})"
    return None if pattern.match(value) and value not in excluded else rule


def dns1123_label_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 label (namespaces), or None."""
    return _problem(value, 63, _LABEL,
                    "must be a DNS-1123 label (lower-case letters, digits and '-', starting and ending with a "
                    "letter or digit)")


def dns1123_subdomain_problem(value: str) -> str | None:
    """Why ``value`` is not a DNS-1123 subdomain (object names), or None."""
    return _problem(value, 253, _SUBDOMAIN,
                    "must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.', starting and ending "
                    "with a letter or digit)")


def secret_key_problem(value: str) -> str | None:
    """Why ``value`` cannot be a key of a Secret / ESO ``secretKey``, or None."""
    return _problem(value, 253, _SECRET_KEY, "must consist of letters, digits, '-', '_' or '.' (and not be '.' or "
                    "start with '..')", excluded=(".",))


_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def label_value_problem(value: str) -> str | None:
    if len(value) > 63:
        return f"must be at most 63 characters (has {len(value)})"
    if not _LABEL_VALUE.match(value):
        return "must be empty or letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def qualified_name_problem(key: str) -> str | None:
    """Why ``key`` is not a label/annotation key (``[prefix/]name``), or None."""
    prefix, _, name = key.rpartition("/")
    if prefix:
        problem = dns1123_subdomain_problem(prefix)
        if problem:
            return f"prefix {prefix!r} {problem}"
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return ("name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter "
                "or digit")
    return None


def externalsecret_path(output_dir: str, plane_kind: str, plane_name: str, namespace: str, name: str | None) -> str:
    """``<outputDir>/<plane kind>/<plane name>/<namespace>/externalsecret_<name>.yaml``, or with no
    ``name`` (one file per plane and namespace) ``.../<namespace>/externalsecrets.yaml``.

    Every segment is validated by the caller (DNS-1123), so the path cannot
    leave the package.
    """
    file = f"externalsecret_{name}.yaml" if name is not None else "externalsecrets.yaml"
    if len(file) > MAX_FILE_NAME:  # a name of 236 to 253 characters: its first 200 and a hash of it, after
        # a "_", which no DNS-1123 name holds (so no other name's file can have this file name)
        file = f"externalsecret_{name[:200]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}.yaml"
    return f"{output_dir}/{plane_kind.lower()}/{plane_name}/{namespace}/{file}"


# The longest file or folder name file systems take (NAME_MAX on Linux and macOS; kpt cannot save a longer one).
MAX_FILE_NAME = 255


def output_dir_problem(value: str) -> str | None:
    """outputDir must be a relative path inside the package."""
    if not value:
        return "must not be empty"
    if value.startswith("/") or "\\" in value:
        return "must be a relative path with '/' separators"
    parts = value.split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "must not contain empty, '.' or '..' segments"
    if any(len(p) > MAX_FILE_NAME for p in parts):
        return f"a folder name must be at most {MAX_FILE_NAME} characters"
    if not all(re.match(r"^[A-Za-z0-9_.-]+$", p) for p in parts):
        return "segments may contain only letters, digits, '.', '_' and '-'"
    return None
