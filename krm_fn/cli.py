"""Command line: ``render`` for plain manifests, ``explain``, ``lint``, ``schema``; with no command,
the KRM function (:mod:`krm_fn.function`, which the ``secretref-fn`` command runs without importing
this module when there are no arguments).

Exit codes: 0 success (warnings allowed), 1 errors (error results, or input
that cannot be read), 2 usage errors, 3 internal errors.  No traceback ever reaches the
user; set ``SECRETREF_FN_DEBUG=1`` to see one for an internal error.
"""
from __future__ import annotations

import os
import sys
from typing import Callable

import click

from . import __version__, fastio, function, krm, limits

HELP = """Fan OpenChoreo SecretReferences out to per-plane External Secrets Operator ExternalSecrets.

With no command, runs as a KRM function: reads a ResourceList on stdin and
writes a ResourceList (pass-through items, generated ExternalSecrets and
results) to stdout. Use it from kpt (exec or image), as a kustomize
transformer, or directly:

\b
  kpt fn eval --exec secretref-fn PKG
  secretref-fn < resource-list.yaml

`secretref-fn render PATH...` runs the same pipeline over plain YAML files
and prints the manifests to apply; `explain PATH...` shows the fan-out,
`lint PATH...` reports problems, `discover [PATH]` finds a SecretReference
(the Argo CD plugin's discovery), `schema` writes JSON Schemas for editors.
"""


_pipeline = function.load_pipeline
_report = function.report


def _guard(body: Callable[[], int]) -> None:
    sys.exit(function.guarded(body, passthrough=(click.exceptions.Exit, click.ClickException)))


def _write(text: str) -> None:
    stream = sys.stdout.buffer
    stream.write(text.encode("utf-8"))
    stream.flush()


@click.group(invoke_without_command=True, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="secretref-fn")
@click.pass_context
def main(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is None:
        _guard(function.run)


CONFIG_OPTION = click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
                             help="Function config (SecretFanout or ConfigMap). Default: in a kpt package whose "
                                  "Kptfile runs secretref-fn, the config kpt passes it; otherwise the one "
                                  "SecretFanout among the inputs.")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--plane", "plane", metavar="KIND/NAME",
              help="Only this plane's ExternalSecrets (Kind/name or Kind/namespace/name); what a per-plane "
                   "Argo CD Application wants. Replaces the config's planes (a warning if they leave it out).")
@CONFIG_OPTION
def render(paths: tuple[str, ...], plane: str | None, config_path: str | None) -> None:
    """Render plain YAML files or folders (recursively; '-' reads stdin) to the manifests to apply.

    Prints a multi-document YAML stream without local-config objects and
    without orchestrator annotations. Errors go to stderr, one per line, and
    nothing is printed to stdout (exit 1).
    """
    _guard(lambda: _render(paths, plane, config_path))


def _read(paths: tuple[str, ...], config_path: str | None) -> krm.ResourceList:
    """The ResourceList that plain files stand for; raises krm.InputError (a limit crossed too)."""
    from . import pipeline, sources

    measure = limits.Measure()
    notes: list[str] = []
    items = sources.read_paths(paths, measure, notes)
    try:
        config = sources.read_config(config_path) if config_path else sources.function_config(paths, items, notes)
    finally:
        for note in notes:
            click.echo(f"warning: {note}", err=True)
    pipeline.check_limits(measure, config)
    return krm.ResourceList(items, config, measure=measure)


def _render(paths: tuple[str, ...], plane: str | None, config_path: str | None) -> int:
    from . import ownership, sources

    if plane is not None:
        from .config import plane_selector_problem

        plane = plane.strip()
        problem = plane_selector_problem(plane)
        if problem:
            raise click.BadParameter(problem, param_hint="--plane")
    rl = _read(paths, config_path)
    overrides = {"planes": [plane]} if plane else None
    if plane is not None:
        _warn_outside_config(plane, rl.function_config)
    analysis = _pipeline().analyze(rl, overrides, files=False)  # a stream: no kpt files to clash in
    out = analysis.resource_list()
    _report(out.results)
    if out.results.has_errors:
        return 1
    if analysis.config is not None and analysis.config.mode == "validate":
        click.echo("warning: mode: validate (the package's Kptfile runs secretref-fn only as a validator, or its "
                   "config says so): nothing is generated, the input's ExternalSecrets are printed as they are",
                   err=True)
    objects = sources.to_apply(out.items, plane)
    generated, inputs = [], []
    for obj in objects:
        (generated if ownership.is_owned(obj) else inputs).append(obj)
    for twice in sources.same_object_twice(generated):
        click.echo(f"warning: {twice} is rendered for more than one plane; a cluster takes one plane's "
                   "manifests: use --plane KIND/NAME", err=True)
    for twice in sources.same_object_twice(inputs):
        click.echo(f"warning: {twice} appears more than once in the input; applied, the last one wins", err=True)
    _write(fastio.dump_all(objects))
    return 0


@main.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
def discover(path: str) -> None:
    """Print the first file under PATH (default: .) holding a SecretReference, as render reads it; print
    nothing if there is none. The Argo CD plugin's discovery: a folder matches when this prints a path."""
    def run() -> int:
        from . import sources

        found = sources.first_secret_reference(path)
        if found is not None:
            _write(f"./{found}\n")
        return 0

    _guard(run)


def _warn_outside_config(plane: str, function_config: dict | None) -> None:
    """--plane names a plane the config's ``planes`` leaves out: rendered as asked, but said."""
    from .config import load
    from .inventory import PlaneId, selected_planes

    config = load(function_config, krm.Results())  # (an invalid config is reported by the run itself)
    selected = selected_planes(config) if config is not None else None
    if selected is not None and PlaneId.parse(plane, "") not in selected:
        listed = ", ".join(sorted(str(p) for p in selected))
        click.echo(f"warning: --plane {plane} is not among the config's planes ({listed}); rendered as asked",
                   err=True)


VALIDATE = {"mode": "validate"}
FORMATS = ("auto", "table", "text", "json", "mermaid", "dot")


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True,
              help="table: rich terminal table; text: plain text; auto: table on a terminal, text otherwise; "
                   "mermaid / dot: a graph; json: the data for scripts.")
@click.option("--diff", "base", type=click.Path(allow_dash=False), metavar="BASE_PATH",
              help="Compare with another tree (e.g. the pull request's base): ExternalSecrets added, removed and "
                   "changed per plane.")
@CONFIG_OPTION
def explain(paths: tuple[str, ...], fmt: str, base: str | None, config_path: str | None) -> None:
    """Show the fan-out: which secrets go to which planes, who needs them, what is unused, every problem.

    Reads the same inputs as `render` and generates nothing. Exit 0 when it
    could explain (problems are part of the output; `lint` is the gate).
    """
    _guard(lambda: _explain(paths, fmt, base, config_path))


def _explain(paths: tuple[str, ...], fmt: str, base: str | None, config_path: str | None) -> int:
    from . import explain as explain_mod
    from . import explain_formats as formats
    from . import pipeline

    if base is not None and fmt in ("mermaid", "dot"):
        raise click.BadParameter("--diff prints a list: use --format text, table or json", param_hint="--format")
    head = pipeline.analyze(_read(paths, config_path), VALIDATE)
    old = pipeline.analyze(_read((base,), config_path), VALIDATE) if base is not None else None
    if fmt == "auto":
        fmt = "table" if sys.stdout.isatty() else "text"
    if old is not None:
        for analysis, label, shown, where in ((head, "head", "removed", " ".join(paths)), (old, "base", "added", base)):
            errors = sum(r.severity == "error" for r in analysis.results)
            if errors:  # (a reviewer would read those as intended changes)
                click.echo(f"warning: the {label} has {errors} error(s): what they keep from rendering shows as "
                           f"{shown}; see secretref-fn lint {where}", err=True)
        diffs = explain_mod.diff(old, head)
        _write(formats.diff_json(diffs) if fmt == "json" else formats.diff_text(diffs))
        return 0
    expl = explain_mod.explain(head)
    if fmt == "table":
        from rich.console import Console
        formats.rich_table(expl, Console())
        return 0
    render_fn = {"text": formats.text, "json": formats.json_text, "mermaid": formats.mermaid, "dot": formats.dot}
    _write(render_fn[fmt](expl))
    return 0


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@CONFIG_OPTION
def lint(paths: tuple[str, ...], config_path: str | None) -> None:
    """Report every problem without generating anything; exit 1 on errors.

    The same checks as the function with `mode: validate` (a kpt validators:
    entry): every error a render would report, plus warnings for
    SecretReferences nothing uses and for secret names that look like a
    mistyped SecretReference.
    """
    _guard(lambda: _lint(paths, config_path))


def _lint(paths: tuple[str, ...], config_path: str | None) -> int:
    from . import pipeline

    analysis = pipeline.analyze(_read(paths, config_path), VALIDATE)
    results = analysis.results
    for result in results:
        click.echo(result.line())
    errors = sum(r.severity == "error" for r in results)
    warnings = sum(r.severity == "warning" for r in results)
    click.echo(f"{errors} error(s), {warnings} warning(s)", err=True)
    return 1 if errors else 0


@main.command()
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="schemas", show_default=True,
              help="Folder to write the JSON Schemas to.")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the folder's schemas differ from the models.")
def schema(out_dir: str, check: bool) -> None:
    """Write JSON Schemas (SecretReference, planes' store fields, SecretFanout) generated from the models."""
    _guard(lambda: _schema(out_dir, check))


def _schema(out_dir: str, check: bool) -> int:
    from . import schemas

    try:
        stale = schemas.stale(out_dir) if check else schemas.write(out_dir)
    except OSError as exc:
        click.echo(f"error: {out_dir}: {exc.strerror or exc}", err=True)
        return 1
    if check:
        if not os.path.isdir(out_dir):
            click.echo(f"error: {out_dir}: no such folder; run: secretref-fn schema --out {out_dir}", err=True)
            return 1
        for name in stale:
            click.echo(f"error: {out_dir}/{name} differs from the models; run: secretref-fn schema --out {out_dir}",
                       err=True)
        return 1 if stale else 0
    for name in stale:
        click.echo(f"wrote {out_dir}/{name}", err=True)
    if not stale:
        click.echo(f"{out_dir}: every schema is up to date", err=True)
    return 0

