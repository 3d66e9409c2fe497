"""The benchmark scripts keep working (a tiny size; no timing is asserted: benchmarks are not tests)."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, need_tool, run_text, run_text_exact, same
from krm_fn import yamlio

BENCH = ROOT / "benchmarks"


def test_generate_writes_a_package_the_function_processes_cleanly(tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "generate.py"), "--sizes", "6:4:30", "--out", str(tmp_path),
                           "--kpt"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "6-4-30" / "resource-list.yaml").read_text()
    assert (tmp_path / "6-4-30" / "pkg" / "Kptfile").is_file()
    out, result = run_text(text)
    assert not result.results.has_errors, [r.line() for r in result.results]
    # a realistic platform: pull secrets are registry credentials (no warning on every workload)
    assert not [r.line() for r in result.results if "pulls images" in r.message]
    kinds = {item["kind"] for item in result.items}
    assert {"SecretReference", "Environment", "ExternalSecret", "Deployment"} <= kinds
    exact_out, exact = run_text_exact(text)
    assert same(yamlio.load_all(out), yamlio.load_all(exact_out)) is None
    # The fast reader keeps only what the pipeline reads of pass-through items: same results, field for field.
    assert [r.line() for r in result.results] == [r.line() for r in exact.results]


def test_generate_is_deterministic(tmp_path) -> None:
    for folder in ("a", "b"):
        subprocess.run([sys.executable, str(BENCH / "generate.py"), "--sizes", "5:2:20", "--out",
                        str(tmp_path / folder)], check=True, capture_output=True, timeout=120)
    assert (tmp_path / "a" / "5-2-20" / "resource-list.yaml").read_bytes() == \
        (tmp_path / "b" / "5-2-20" / "resource-list.yaml").read_bytes()


def test_run_prints_the_table(tmp_path) -> None:
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "5:2:20", "--repeat", "1", "--no-kpt",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "| Measure | secretref-fn | Reference | Ratio |" in proc.stdout
    for measure in ("cold start", "vs PyYAML C parse + dump", "vs yaml-rs parse + ryaml dump", "peak RSS"):
        assert measure in proc.stdout, measure


def test_run_measures_kpt_renders(tmp_path) -> None:
    need_tool("kpt")
    proc = subprocess.run([sys.executable, str(BENCH / "run.py"), "--sizes", "5:2:20", "--repeat", "1",
                           "--kpt-size", "5:2:20", "--kpt-rounds", "2", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for measure in ("first render, function vs no-op exec (cat)",
                    "first render, replay of the function's output vs no-op exec (cat)",
                    "first render, function vs replay of its recorded output",
                    "first render, function with fileLayout: object",
                    "re-render of the rendered package, function vs no-op exec (cat)",
                    "re-render, replay of the function's output vs no-op exec (cat)",
                    "re-render, function vs replay of its recorded output"):
        assert f"kpt fn render of 5-2-20: {measure}" in proc.stdout, measure
    assert "over 2 rounds" in proc.stdout
    assert "render --plane of 5-2-20's files (the Argo CD plugin) vs PyYAML C parse + dump" in proc.stdout
