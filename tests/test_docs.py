"""The README's promises: its commands are the ones CI runs."""
from __future__ import annotations

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text()


def _quick_start_commands() -> list[str]:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_ci_runs_the_readme_test_command() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci_lines


def test_quick_start_renders_the_bundled_example() -> None:
    assert _quick_start_commands()[0].endswith("secretref-fn render examples/quickstart")
    assert (ROOT / "examples" / "quickstart").is_dir()
