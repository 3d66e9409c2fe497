"""Command line: the KRM function (no arguments) and ``render`` for plain manifests.

Exit codes: 0 success (warnings allowed), 1 errors (error results, or input
that is not a ResourceList), 2 usage errors.  No traceback ever reaches the
user; set ``SECRETREF_FN_DEBUG=1`` to see one for an internal error.
"""
from __future__ import annotations

import os
import sys
import traceback
from typing import Callable

import click

from . import __version__, krm, pipeline, sources, yamlio
from .config import plane_selector_problem

HELP = """Fan OpenChoreo SecretReferences out to per-plane External Secrets Operator ExternalSecrets.

With no command, runs as a KRM function: reads a ResourceList on stdin and
writes a ResourceList (pass-through items, generated ExternalSecrets and
results) to stdout. Use it from kpt (exec or image), as a kustomize
transformer, or directly:

\b
  kpt fn eval --exec secretref-fn PKG
  secretref-fn < resource-list.yaml

`secretref-fn render PATH...` runs the same pipeline over plain YAML files
and prints the manifests to apply.
"""


def _guard(body: Callable[[], int]) -> None:
    try:
        code = body()
    except (BrokenPipeError, KeyboardInterrupt):
        code = 1
    except click.exceptions.Exit:
        raise
    except click.ClickException:
        raise
    except Exception as exc:  # noqa: BLE001 - the user never sees a traceback
        if os.environ.get("SECRETREF_FN_DEBUG") == "1":
            traceback.print_exc()
        # The exception text could quote input; only its type is printed.
        click.echo(f"secretref-fn: internal error ({type(exc).__name__}); please report it "
                   "(SECRETREF_FN_DEBUG=1 shows details)", err=True)
        code = 3
    sys.exit(code)


def _write(text: str) -> None:
    stream = sys.stdout.buffer
    stream.write(text.encode("utf-8"))
    stream.flush()


def _report(results: krm.Results) -> None:
    for result in results:
        click.echo(result.line(), err=True)


def _function_mode() -> int:
    data = sys.stdin.buffer.read()
    try:
        rl = krm.parse_resource_list(yamlio.decode(data))
    except (krm.InputError, yamlio.YamlError) as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    out = pipeline.run(rl)
    _write(yamlio.dump(out.to_dict()))
    _report(out.results)
    return 1 if out.results.has_errors else 0


@click.group(invoke_without_command=True, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="secretref-fn")
@click.pass_context
def main(ctx: click.Context) -> None:
    if ctx.invoked_subcommand is None:
        _guard(_function_mode)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(allow_dash=True))
@click.option("--plane", "plane", metavar="KIND/NAME",
              help="Only this plane's ExternalSecrets (Kind/name or Kind/namespace/name); what a per-plane "
                   "Argo CD Application wants.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Function config (SecretFanout or ConfigMap). Default: the one SecretFanout among the inputs.")
def render(paths: tuple[str, ...], plane: str | None, config_path: str | None) -> None:
    """Render plain YAML files or folders (recursively; '-' reads stdin) to the manifests to apply.

    Prints a multi-document YAML stream without local-config objects and
    without orchestrator annotations. Errors go to stderr, one per line, and
    nothing is printed to stdout (exit 1).
    """
    _guard(lambda: _render(paths, plane, config_path))


def _render(paths: tuple[str, ...], plane: str | None, config_path: str | None) -> int:
    if plane is not None:
        problem = plane_selector_problem(plane)
        if problem:
            raise click.BadParameter(problem, param_hint="--plane")
    try:
        items = sources.read_paths(paths)
        config = sources.read_config(config_path) if config_path else sources.find_config(items)
    except sources.SourceError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    overrides = {"planes": [plane]} if plane else None
    out = pipeline.run(krm.ResourceList(items, config), overrides)
    _report(out.results)
    if out.results.has_errors:
        return 1
    objects = sources.to_apply(out.items, plane)
    for twice in sources.same_object_twice(objects):
        click.echo(f"warning: {twice} is rendered for more than one plane; a cluster takes one plane's "
                   "manifests: use --plane KIND/NAME", err=True)
    _write(yamlio.dump_all(objects))
    return 0


def run_main() -> None:  # pragma: no cover - console entry for python -m
    main(prog_name="secretref-fn")


if __name__ == "__main__":  # pragma: no cover
    run_main()
