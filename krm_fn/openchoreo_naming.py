"""Upstream OpenChoreo's object names, reproduced exactly.

A port of ``GenerateK8sName*`` (``internal/dataplane/kubernetes/name.go``) and
of the content hashes in ``internal/pipeline/component/context/derived.go``
(v1.x).  Changing any detail here renames every ExternalSecret we generate
for ReleaseBindings and WorkflowRuns, and then the Deployments OpenChoreo
renders no longer find their Secrets: the unit tests pin every function to
upstream's published test vectors.

Byte semantics follow Go: lengths and cuts count UTF-8 bytes, and a cut may
split a multi-byte character (such a name is never a valid Kubernetes name,
so it is refused later by the DNS-1123 checks).
"""
from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from typing import Iterable

ENV_SECRETS = "env-secrets"
_FNV_OFFSET = 0x811C9DC5
_FNV_PRIME = 0x01000193


def fnv1a32(data: str) -> str:
    """FNV-1a 32-bit over the UTF-8 bytes of ``data``, printed ``%08x``."""
    value = _FNV_OFFSET
    for byte in data.encode("utf-8"):
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return f"{value:08x}"


def _is_letter_or_number(char: str) -> bool:
    # Go's unicode.IsLetter / unicode.IsNumber: categories L* and N*.
    return unicodedata.category(char)[0] in ("L", "N")


def _sanitize(name: str) -> bytes:
    out = []
    for char in name:
        lower = char.lower()
        char = lower if len(lower) == 1 else char  # Go maps rune to rune
        out.append(char if char in "-." or _is_letter_or_number(char) else "-")
    return "".join(out).strip("-.").encode("utf-8")


def _trim_non_alnum(data: bytes) -> bytes:
    """Go ``strings.TrimFunc(s, not letter-or-number)``; an invalid byte counts as not."""
    def first_rune(buf: bytes, from_end: bool) -> int:
        """Width of the first (or last) rune if it is a letter or number, else -width."""
        for width in range(1, 5):
            piece = buf[-width:] if from_end else buf[:width]
            try:
                char = piece.decode("utf-8")
            except UnicodeDecodeError:
                continue
            return width if _is_letter_or_number(char) else -width
        return -1
    while data:
        width = first_rune(data, False)
        if width > 0:
            break
        data = data[-width:]
    while data:
        width = first_rune(data, True)
        if width > 0:
            break
        data = data[:width]
    return data


def generate_k8s_name(limit: int, extra: str, names: Iterable[str]) -> str:
    """``GenerateK8sNameWithExtraHashInput(limit, extra, names...)``.

    The hash is taken over the original names (plus ``extra``); each
    sanitised name is then cut to its share of ``limit`` (in bytes).
    """
    names = list(names)
    hash_input = "-".join(names)
    if extra:
        hash_input += "-" + extra
    h8 = hashlib.sha256(hash_input.encode("utf-8")).hexdigest()[:8]
    count = len(names)
    max_base = limit - 8 - (count - 1) - 1
    per, rem = divmod(max_base, count)
    parts = [_sanitize(n)[: per + 1 if i < rem else per] for i, n in enumerate(names)]
    final = b"-".join(parts) + b"-" + h8.encode()
    return _trim_non_alnum(final).decode("utf-8", errors="surrogateescape")


@dataclass(frozen=True)
class Remote:
    """The part of a ``remoteRef`` upstream carries forward (and hashes)."""

    key: str
    property: str = ""
    version: str = ""


def remote_ref_content_hash(ref: Remote | None) -> str:
    if ref is None:
        return fnv1a32("")
    return fnv1a32(f"{ref.key}\x00{ref.property}\x00{ref.version}")


def secret_envs_content_hash(envs: list[tuple[str, Remote | None]]) -> str:
    """Over each secret env (in order) with a remoteRef; ``""`` when there are none."""
    if not envs:
        return ""
    text = "".join(f"{name}\x00{r.key}\x00{r.property}\x00{r.version}\x00" for name, r in envs if r is not None)
    return fnv1a32(text)


def _prefix(component: str, environment: str) -> str:
    return f"{component}-{environment}"


def env_secrets_name(component: str, environment: str, envs: list[tuple[str, Remote | None]]) -> str:
    """``<component>-<env>-env-secrets-<h8>``: the ExternalSecret for all secret env vars."""
    return generate_k8s_name(253, secret_envs_content_hash(envs), [_prefix(component, environment), ENV_SECRETS])


def file_secret_name(component: str, environment: str, file_key: str, ref: Remote | None) -> str:
    """``<component>-<env>-secret-<file>-<h8>``: the ExternalSecret for one secret file."""
    return generate_k8s_name(253, remote_ref_content_hash(ref),
                             [_prefix(component, environment), "secret", file_key.replace(".", "-")])


def env_configs_name(component: str, environment: str) -> str:
    return generate_k8s_name(253, "", [_prefix(component, environment), "env-configs"])


def file_config_name(component: str, environment: str, file_key: str) -> str:
    return generate_k8s_name(253, "", [_prefix(component, environment), "config", file_key.replace(".", "-")])


def file_mount_volume(mount_path: str, file_key: str) -> str:
    """The pod volume upstream mounts a file through (what a Deployment refers to)."""
    return "file-mount-" + fnv1a32(f"{mount_path}/{file_key}")


def dataplane_namespace(namespace: str, project: str, environment: str) -> str:
    """``dp-<ns>-<project>-<env>-<h8>``: where a component's data-plane objects live."""
    return generate_k8s_name(63, "", ["dp", namespace, project, environment])


def workflows_namespace(namespace: str) -> str:
    """The workflow-plane namespace of a control-plane namespace."""
    return f"workflows-{namespace}"


def git_secret_name(run: str) -> str:
    """``<WorkflowRun>-git-secret``."""
    return f"{run}-git-secret"
