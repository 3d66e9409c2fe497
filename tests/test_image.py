"""The container image, without a Docker engine: lint the Dockerfile, then replay it.

:class:`Replay` carries out the Dockerfile's instructions (ENV, WORKDIR, COPY
from a build context filtered by .dockerignore, RUN) on the host, with every
path the image creates rebased under a temporary root, and the host's Debian
``python3`` standing in for the base image's ``python``. The installed
entry point is then run as ``nobody`` and as uid 999, with HOME unset, the
environment of the final stage, and the install read-only.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, need, need_tool, run_process
from krm_fn import __version__

DOCKERFILE = ROOT / "Dockerfile"
IMAGE = f"ghcr.io/openchoreo/secretref-fn:{__version__}"
SYSTEM_DIRS = {"usr", "bin", "sbin", "lib", "lib64", "etc", "tmp", "var", "proc", "dev"}
DEBIAN_PYTHON = Path("/usr/bin/python3")


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def stages(text: str) -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for word, rest in instructions(text):
        if word == "FROM":
            found.append([])
        if found:
            found[-1].append((word, rest))
    return found


def dockerignore_excludes(relative: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        regex = (re.escape(body.strip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
                 .replace(r"\?", "[^/]").replace(r"\[", "[").replace(r"\]", "]"))
        if any(re.fullmatch(regex, p) for p in prefixes):
            excluded = not negate
    return excluded


def _env_pairs(text: str) -> dict[str, str]:
    return dict(word.split("=", 1) for word in shlex.split(text))


class Replay:
    """One Dockerfile carried out on the host under ``root``."""

    def __init__(self, root: Path, context: Path, python_bin: Path) -> None:
        self.root, self.context, self.python_bin = root, context, python_bin
        self.env: dict[str, str] = {}
        self.cwd = root
        self.user: str | None = None
        self.entrypoint: list[str] | None = None
        self.labels: dict[str, str] = {}
        self.args: dict[str, str] = {}

    def rebase(self, value: str) -> str:
        """Absolute paths outside the system folders live under the replay root."""
        def one(path: str) -> str:
            top = path.lstrip("/").split("/", 1)[0]
            return str(self.root / path.lstrip("/")) if path.startswith("/") and top not in SYSTEM_DIRS else path
        return ":".join(one(p) for p in value.split(":"))

    def expand(self, value: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: self.env.get(m.group(1), self.args.get(m.group(1), "")), value)

    def stage(self, steps: list[tuple[str, str]]) -> None:
        self.env = {"PATH": f"{self.python_bin}:/usr/local/bin:/usr/bin:/bin"}
        self.cwd = self.root
        for word, rest in steps:
            getattr(self, f"do_{word.lower()}")(rest)

    def do_from(self, rest: str) -> None:
        pass

    def do_arg(self, rest: str) -> None:
        name, _, default = rest.partition("=")
        self.args[name] = default

    def do_label(self, rest: str) -> None:
        self.labels.update({k: self.expand(v) for k, v in _env_pairs(rest).items()})

    def do_env(self, rest: str) -> None:
        for key, value in _env_pairs(rest).items():
            self.env[key] = self.rebase(self.expand(value))

    def do_workdir(self, rest: str) -> None:
        self.cwd = Path(self.rebase(rest))
        self.cwd.mkdir(parents=True, exist_ok=True)

    def do_copy(self, rest: str) -> None:
        words = shlex.split(rest)
        if words[0].startswith("--from="):
            src, dest = words[1:]
            assert src == dest, "the final stage keeps the build stage's paths (the venv is not relocatable)"
            return  # same replay root: already in place
        *sources, dest = words
        target = Path(self.rebase(dest)) if dest.startswith("/") else self.cwd / dest
        for source in sources:
            origin = self.context / source
            assert origin.exists(), f"COPY {source}: not in the build context (.dockerignore?)"
            into = target / origin.name if dest.endswith("/") else target
            if origin.is_dir():
                shutil.copytree(origin, into, dirs_exist_ok=True)
            else:
                into.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, into)

    def do_run(self, rest: str) -> None:
        proc = subprocess.run(["sh", "-c", rest], cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, f"RUN {rest}\n{proc.stdout}\n{proc.stderr}"

    def do_user(self, rest: str) -> None:
        self.user = rest

    def do_entrypoint(self, rest: str) -> None:
        self.entrypoint = json.loads(rest)


def build_context(dest: Path) -> Path:
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in sorted(ROOT.rglob("*")):
        relative = path.relative_to(ROOT).as_posix()
        if path.is_file() and not dockerignore_excludes(relative, patterns):
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest / relative)
    return dest


@pytest.fixture(scope="module")
def image() -> Replay:
    need(os.geteuid() == 0, "replaying the image as other users needs root (setpriv)")
    need_tool("setpriv")
    need(DEBIAN_PYTHON.is_file() and subprocess.run([DEBIAN_PYTHON, "-c", "import venv, ensurepip"]).returncode == 0,
         f"{DEBIAN_PYTHON} with venv and ensurepip stands in for the base image's python")
    top = Path(tempfile.mkdtemp(prefix="secretref-fn-image-"))
    top.chmod(0o755)  # other users must reach the install
    python_bin = top / "python-bin"
    python_bin.mkdir()
    (python_bin / "python").symlink_to(DEBIAN_PYTHON)
    try:
        replay = Replay(top / "root", build_context(top / "context"), python_bin)
        replay.root.mkdir()
        text = DOCKERFILE.read_text()
        for word, rest in instructions(text)[:[w for w, _ in instructions(text)].index("FROM")]:
            replay.do_arg(rest)  # global ARGs (before the first FROM)
        build, final = stages(text)
        replay.stage(build)
        replay.stage(final)
        shutil.copytree(ROOT / "examples" / "kpt", top / "package")
        for path in [top, *top.rglob("*")]:  # the install read-only, everything readable
            if not path.is_symlink():
                mode = path.stat().st_mode
                path.chmod((mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH) & ~0o222
                           | (0o111 if path.is_dir() else 0))
        yield replay
    finally:
        for path in [top, *top.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
        shutil.rmtree(top)


def _listing(root: Path) -> list[str]:
    return sorted(str(p) for p in root.rglob("*"))


def _as(uid: int, replay: Replay, args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess:
    """The entry point as the container would run it: that uid, the final stage's env only (no HOME), cwd /."""
    env = ["env", "-i", *(f"{k}={v}" for k, v in replay.env.items())]
    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *env,
                           *replay.entrypoint, *args], input=stdin, capture_output=True, cwd="/", timeout=60)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = need_tool("hadolint")
    proc = subprocess.run([hadolint, "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_shape() -> None:
    build, final = stages(DOCKERFILE.read_text())
    args = dict(rest.partition("=")[::2] for word, rest in instructions(DOCKERFILE.read_text()) if word == "ARG")
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", args["PYTHON_IMAGE"]), "a slim base pinned by version"
    assert build[0] == ("FROM", "${PYTHON_IMAGE} AS build") and final[0] == ("FROM", "${PYTHON_IMAGE}")
    assert [w for w, _ in final if w == "RUN"] == [], "the final stage installs nothing: only the venv is copied"
    assert "PIP_NO_CACHE_DIR=1" in dict(build)["ENV"]
    assert ("ENTRYPOINT", '["secretref-fn"]') in final
    user = dict(final)["USER"].split(":")[0]
    assert user not in ("root", "0") and user.isdigit(), "numeric non-root user (runAsNonRoot can verify it)"
    assert args["VERSION"] == __version__


@pytest.mark.parametrize(("path", "excluded"), [
    ("krm_fn/cli.py", False), ("krm_fn/__pycache__/cli.cpython-311.pyc", True), ("krm_fn/x.pyc", True),
    ("README.md", False), (".venv/bin/python", True), ("tests/test_kpt.py", True), ("Dockerfile", True),
])
def test_dockerignore_rules(path: str, excluded: bool) -> None:
    patterns = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert dockerignore_excludes(path, patterns) == excluded


def test_dockerignore_sends_only_the_package(tmp_path: Path) -> None:
    context = build_context(tmp_path)
    top = {p.name for p in context.iterdir()}
    assert top == {"pyproject.toml", "README.md", "krm_fn"}
    assert not list(context.rglob("__pycache__"))


def test_labels_follow_oci_conventions(image: Replay) -> None:
    labels = image.labels
    for key in ("title", "description", "version", "licenses", "source", "base.name"):
        assert labels.get(f"org.opencontainers.image.{key}"), key
    assert labels["org.opencontainers.image.version"] == __version__
    assert labels["org.opencontainers.image.base.name"].endswith("/" + image.args["PYTHON_IMAGE"])


def test_the_install_has_no_pip_and_no_caches(image: Replay) -> None:
    venv = Path(image.env["PATH"].split(":")[0]).parent
    assert (venv / "bin" / "secretref-fn").is_file()
    assert not (venv / "bin" / "pip").exists()
    assert not list(venv.glob("lib/python*/site-packages/pip"))
    assert not list(image.root.rglob(".cache"))


@pytest.mark.parametrize("uid", [65534, 999])
def test_entrypoint_renders_as_unprivileged_user_with_read_only_install(image: Replay, uid: int) -> None:
    before = _listing(image.root)
    package = image.root.parent / "package"
    proc = _as(uid, image, ["render", "--plane", "DataPlane/acme/production", str(package)])
    assert proc.returncode == 0, proc.stderr
    reference = run_process(["render", "--plane", "DataPlane/acme/production", str(package)])
    assert proc.stdout == reference.stdout and proc.stdout.count(b"kind: ExternalSecret") == 2

    rl = (ROOT / "testdata" / "seed-build-credentials" / "input.yaml").read_bytes()
    function = _as(uid, image, [], rl)
    assert function.returncode == 0, function.stderr
    assert function.stdout == (ROOT / "testdata" / "seed-build-credentials" / "expected.yaml").read_bytes()
    assert b"KRM function" in _as(uid, image, ["--help"]).stdout
    assert _listing(image.root) == before, "nothing may be written at run time"


def test_every_reference_to_the_image_names_this_version() -> None:
    """metadata.yaml, the examples and the Argo CD sidecar name one image: this package's version."""
    files = [ROOT / "metadata.yaml", ROOT / "README.md", ROOT / "argocd" / "repo-server-patch.yaml",
             ROOT / "examples" / "kpt" / "Kptfile", *sorted((ROOT / "examples" / "kustomize").rglob("*.yaml"))]
    found = {m for f in files for m in re.findall(r"ghcr\.io/openchoreo/secretref-fn:[\w.\-]+", f.read_text())}
    assert found == {IMAGE}
    assert yaml.safe_load((ROOT / "metadata.yaml").read_text())["image"] == IMAGE.rsplit(":", 1)[0]  # catalog: untagged
