#!/usr/bin/env python3
"""Measure secretref-fn against the YAML floors, in one run on one machine, and print a table.

1. cold start: the function on an empty ResourceList, against ``python3 -c "import yaml"``;
2. throughput at each size: the function end to end (a fresh process, stdin to
   stdout) against (a) PyYAML's C loader + C dumper on the same input and
   (b) yaml-rs parse + ryaml dump (the native reference);
3. scaling: time at L / time at M;
4. peak memory (max RSS) at L against the input size;
5. inside kpt: ``kpt fn render`` of the M package with the function as an exec
   mutator, against the same render with a no-op exec function (``cat``): the
   first render of the package as generated (the no-op writes none of the
   ExternalSecrets), and the re-render of the package as rendered (the no-op
   carries the previous render's ExternalSecrets too);
   a replay of the function's recorded output against the no-op (kpt's own work on
   the generated objects) and the function against that replay (its own share);
   also with ``fileLayout: object`` (one file per ExternalSecret; the default is one per plane and namespace);
6. what the Argo CD plugin runs: ``render --plane`` on the kpt package's files (one plane's
   ExternalSecrets), against the PyYAML floor on the same objects as one ResourceList.

The commands compared in a row run in turn, round after round (``--repeat``
rounds, one for L; ``--kpt-rounds`` for kpt): each figure is the median of its
runs, each ratio the median of the rounds' ratios, with their range.  Usage:
``python benchmarks/run.py [--sizes S,M,L] [--repeat 3] [--kpt-rounds 5] [--no-kpt] [--out DIR]``.
Packages are generated on first use (benchmarks/generate.py, fixed seeds).
"""
from __future__ import annotations

import argparse
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import generate  # noqa: E402

PY = sys.executable
FUNCTION = [PY, "-m", "krm_fn"]
PYYAML_FLOOR = [PY, "-c", "import sys, yaml; d = yaml.load(sys.stdin.buffer.read(), Loader=yaml.CSafeLoader); "
                "sys.stdout.write(yaml.dump(d, Dumper=yaml.CSafeDumper, sort_keys=False))"]
NATIVE_FLOOR = [PY, "-c", "import sys, yaml_rs, ryaml; d = yaml_rs.loads(sys.stdin.read(), parse_datetime=False); "
                "sys.stdout.write(ryaml.dumps(d))"]
EMPTY = b"apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems: []\n"


def run_once(cmd: list[str], stdin: bytes, cwd: Path | None = None) -> tuple[float, int, int]:
    """(wall seconds, max RSS in bytes, exit code) of one fresh process."""
    with tempfile.TemporaryFile() as inp, open(os.devnull, "wb") as devnull:
        inp.write(stdin)
        inp.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=inp, stdout=devnull, stderr=subprocess.DEVNULL, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss * 1024, proc.returncode


def _generate(size: str, out: Path, kpt: bool) -> None:
    """generate.py in a process of its own: a child's max RSS (``wait4``) includes its parent's peak at the
    time it was started, and generating L in this process took it past 1 GB (the L row read 36×, not 4.4×)."""
    subprocess.run([PY, str(Path(generate.__file__)), "--sizes", size, "--out", str(out), *(["--kpt"] if kpt else [])],
                   check=True, stdout=subprocess.DEVNULL)


def in_turn(cmds: dict[str, list[str]], stdin: bytes, rounds: int) -> tuple[dict[str, list[float]], int]:
    """Each command once per round, in turn (this machine drifts over minutes: a ratio should compare runs
    made side by side): the wall times of each, and the first command's peak RSS."""
    times: dict[str, list[float]] = {name: [] for name in cmds}
    first, rss = next(iter(cmds)), 0
    for _ in range(rounds):
        for name, cmd in cmds.items():
            elapsed, peak, code = run_once(cmd, stdin)
            if code != 0:  # the generated packages are clean: anything else is not a full run
                raise SystemExit(f"{' '.join(cmd[:3])} exited {code}")
            times[name].append(elapsed)
            if name == first:
                rss = max(rss, peak)
    return times, rss


# One path for the whole run (kpt records it in annotations), and one per run: two runs at once (two
# checkouts' tests on one machine) must not render in each other's folder.
KPT_WORK = Path(tempfile.gettempdir()) / f"secretref-fn-bench-kpt-{os.getpid()}"


def kpt_render(pkg: Path, exec_script: str, config: dict[str, str] | None = None, keep: Path | None = None) -> float:
    """Wall time of one ``kpt fn render`` on a fresh copy of pkg with one exec mutator
    (``config``: its ``configMap:`` in the Kptfile); ``keep``: where to leave the rendered package,
    with pkg's own Kptfile."""
    shutil.rmtree(KPT_WORK, ignore_errors=True)
    work = KPT_WORK / "pkg"
    shutil.copytree(pkg, work)
    script = KPT_WORK / "fn.sh"
    script.write_text(f"#!/bin/sh\n{exec_script}\n")
    script.chmod(0o755)
    mutator = f"mutators:\n  - exec: {script}"
    if config:
        mutator += "\n    configMap:" + "".join(f"\n      {k}: {v}" for k, v in config.items())
    kptfile = (work / "Kptfile").read_text()
    if "mutators: []" not in kptfile:  # else the render would run no function at all
        raise SystemExit(f"{pkg}/Kptfile: expected 'mutators: []' (a package from benchmarks/generate.py)")
    (work / "Kptfile").write_text(kptfile.replace("mutators: []", mutator))
    start = time.perf_counter()
    proc = subprocess.run(["kpt", "fn", "render", str(work), "--allow-exec", "--truncate-output=false"],
                          capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"kpt fn render failed: {proc.stderr.decode()[-2000:]}")
    if keep:
        (work / "Kptfile").write_text(kptfile)
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(work, keep)
    shutil.rmtree(KPT_WORK, ignore_errors=True)
    return elapsed


def _kpt_renders(pkg: Path, scratch: Path, rounds: int) -> dict[str, list[float]]:
    """Wall times of each kpt variant, in turn, round after round (the renders take 15-25 s each and this
    machine drifts over minutes: each ratio should compare renders made side by side)."""
    recorded, recorded_again = scratch / "recorded.yaml", scratch / "recorded-again.yaml"
    rendered, rendered_again = scratch / "rendered", scratch / "rendered-again"
    function = shlex.join(FUNCTION)
    run_function = "exec " + function
    kpt_render(pkg, f"set -e; {function} > {recorded}; exec cat {recorded}", keep=rendered)
    if b"\n  kind: ExternalSecret\n" not in recorded.read_bytes():
        raise SystemExit(f"{pkg}: the function generated no ExternalSecrets; nothing to measure")
    kpt_render(rendered, f"set -e; {function} > {recorded_again}; exec cat {recorded_again}", keep=rendered_again)
    if not _same_files(rendered, rendered_again):
        raise SystemExit("re-rendering the rendered package changed it: the function is not idempotent in kpt")
    variants = {"noop": (pkg, "exec cat", None), "function": (pkg, run_function, None),
                "replay": (pkg, f"cat > /dev/null; exec cat {recorded}", None),
                "object": (pkg, run_function, {"fileLayout": "object"}),
                "noop again": (rendered, "exec cat", None), "function again": (rendered, run_function, None),
                "replay again": (rendered, f"cat > /dev/null; exec cat {recorded_again}", None)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (source, script, config) in variants.items():
            times[name].append(kpt_render(source, script, config))
    return times


def _same_files(a: Path, b: Path) -> bool:
    """Whether two package folders hold the same files with the same bytes."""
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    return files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file()) and \
        all((a / f).read_bytes() == (b / f).read_bytes() for f in files)


def _first_data_plane(pkg: Path) -> str:
    """``DataPlane/<namespace>/<name>`` of the package's first DataPlane (what an Argo CD Application names)."""
    for path in sorted((pkg / "planes").glob("dataplane-*.yaml")):
        plane = yaml.safe_load(path.read_text())
        return f"DataPlane/{plane['metadata']['namespace']}/{plane['metadata']['name']}"
    raise SystemExit(f"{pkg}: no DataPlane")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-kpt", action="store_true", help="skip the kpt comparison")
    parser.add_argument("--kpt-size", default="M")
    parser.add_argument("--kpt-rounds", type=int, default=5,
                        help="rounds of the kpt renders (each round renders every variant once, in turn)")
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--function", help="command to measure instead of 'python -m krm_fn' (e.g. an older checkout)")
    args = parser.parse_args(argv)
    if args.function:
        FUNCTION[:] = shlex.split(args.function)
    out = Path(args.out)
    sizes = args.sizes.split(",")
    rows: list[tuple[str, str, str, str]] = []  # measure, function, reference, ratio

    def row(measure: str, fn: list[float], ref: list[float], target: str = "") -> None:
        """Medians of the runs; the ratio is the median of each round's ratio, with its range over the rounds."""
        ratios = sorted(a / b for a, b in zip(fn, ref))
        spread = f" ({ratios[0]:.2f}–{ratios[-1]:.2f} over {len(ratios)} rounds)" if len(ratios) > 1 else ""
        rows.append((measure, f"{statistics.median(fn):.3f} s", f"{statistics.median(ref):.3f} s",
                     f"{statistics.median(ratios):.2f}×{spread} {target}".strip()))

    print(f"machine: {machine()}", file=sys.stderr)
    cold, _ = in_turn({"function": FUNCTION, "import yaml": [PY, "-c", "import yaml"]}, EMPTY, max(args.repeat, 5))
    row("cold start (empty ResourceList) vs `python3 -c 'import yaml'`", cold["function"], cold["import yaml"],
        target="(target ≤ 3)")

    timings: dict[str, float] = {}
    for size in sizes:
        label = generate.parse_size(size)[0]
        path = out / label / "resource-list.yaml"
        if not path.exists():
            _generate(size, out, kpt=(size == args.kpt_size and not args.no_kpt))
        data = path.read_bytes()
        repeat = 1 if size == "L" else args.repeat
        runs, rss = in_turn({"function": FUNCTION, "pyyaml": PYYAML_FLOOR, "native": NATIVE_FLOOR}, data, repeat)
        fn, pyyaml, native = runs["function"], runs["pyyaml"], runs["native"]
        timings[label] = statistics.median(fn)
        mb = len(data) / 1e6
        row(f"{label} ({mb:.1f} MB) vs PyYAML C parse + dump", fn, pyyaml, target="(target ≤ 0.5 at M, L)")
        row(f"{label} ({mb:.1f} MB) vs yaml-rs parse + ryaml dump", fn, native, target="(target ≤ 3 at M, L)")
        if label == "L" or size == sizes[-1]:
            rows.append((f"peak RSS at {label} vs input size", f"{rss / 1e6:.0f} MB", f"{mb:.1f} MB",
                         f"{rss / len(data):.2f}× (target ≤ 5)"))
        print(f"{label}: function {statistics.median(fn):.3f}s, PyYAML {statistics.median(pyyaml):.3f}s, "
              f"native {statistics.median(native):.3f}s", file=sys.stderr)
    if "M" in timings and "L" in timings:
        rows.append(("scaling: time at L / time at M", f"{timings['L']:.3f} s", f"{timings['M']:.3f} s",
                     f"{timings['L'] / timings['M']:.2f} (target ≤ 11)"))

    if not args.no_kpt and shutil.which("kpt"):
        kpt_label = generate.parse_size(args.kpt_size)[0]
        pkg = out / kpt_label / "pkg"
        if not pkg.exists():
            _generate(args.kpt_size, out, kpt=True)
        # kpt's own work grows with the generated objects it must write; replaying the function's
        # recorded output (cat of a file) separates that from the function's own time. The package is
        # measured as generated (the first render: the no-op writes none of the ExternalSecrets) and as
        # rendered (a re-render: the no-op carries the previous render's ExternalSecrets too).
        with tempfile.TemporaryDirectory(prefix="secretref-fn-bench-") as folder:
            times = _kpt_renders(pkg, Path(folder), args.kpt_rounds)

        def kpt_row(measure: str, name: str, reference: str, target: str) -> None:
            row(f"kpt fn render of {kpt_label}: {measure}", times[name], times[reference], target)

        kpt_row("first render, function vs no-op exec (cat)", "function", "noop",
                "(issue 6's target as written: ≤ 1.2; the no-op writes no ExternalSecrets)")
        kpt_row("first render, replay of the function's output vs no-op exec (cat)", "replay", "noop",
                "(kpt's own work on the generated objects)")
        kpt_row("first render, function vs replay of its recorded output", "function", "replay",
                "(the function's own share)")
        kpt_row("first render, function with fileLayout: object vs no-op exec (cat)", "object", "noop",
                "(one file per ExternalSecret)")
        kpt_row("re-render of the rendered package, function vs no-op exec (cat)", "function again",
                "noop again", "(proposed measure of the target: ≤ 1.2)")
        kpt_row("re-render, replay of the function's output vs no-op exec (cat)", "replay again", "noop again",
                "(kpt's work on regenerated objects against echoed ones)")
        kpt_row("re-render, function vs replay of its recorded output", "function again", "replay again",
                "(the function's own share)")

        # What the Argo CD plugin runs: `render --plane` on the package's files, against the PyYAML floor
        # on the same objects as one ResourceList.
        plane = _first_data_plane(pkg)
        data = (out / kpt_label / "resource-list.yaml").read_bytes()
        render, _ = in_turn({"render": [*FUNCTION, "render", "--plane", plane, str(pkg)], "pyyaml": PYYAML_FLOOR},
                            data, args.repeat)
        row(f"render --plane of {kpt_label}'s files (the Argo CD plugin) vs PyYAML C parse + dump",
            render["render"], render["pyyaml"], target="(no target; the same floor as throughput)")

    print(f"Machine: {machine()}\n")
    print("| Measure | secretref-fn | Reference | Ratio |")
    print("|---|---|---|---|")
    for measure, fn_text, ref_text, ratio in rows:
        print(f"| {measure} | {fn_text} | {ref_text} | {ratio} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
