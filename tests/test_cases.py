"""Golden cases: testdata/<case>/input.yaml -> expected.yaml, each run twice.

The second run (unless the case has a ``not-idempotent`` file saying why) feeds the first run's output back in: it must come out
byte-identical (idempotency, and pruning of objects we generated before).
Regenerate expectations with UPDATE_GOLDEN=1, then read every changed line.
"""
from __future__ import annotations

import os

import pytest

from conftest import TESTDATA, run_text

CASES = sorted(p.name for p in TESTDATA.iterdir() if (p / "input.yaml").is_file())


@pytest.mark.parametrize("case", CASES)
def test_case(case: str) -> None:
    folder = TESTDATA / case
    text, out = run_text((folder / "input.yaml").read_text())
    expected_file = folder / "expected.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        expected_file.write_text(text)
    assert text == expected_file.read_text()
    if (folder / "not-idempotent").exists():  # holds the reason, like kpt's notIdempotent
        return
    again, out2 = run_text(text)
    assert again == text, "second run changed the output (not idempotent)"


@pytest.mark.parametrize("case", CASES)
def test_error_cases_say_so_in_their_name(case: str) -> None:
    """A case named error-* must produce an error result; any other must not."""
    _, out = run_text((TESTDATA / case / "input.yaml").read_text())
    assert out.results.has_errors == case.startswith("error-"), [r.line() for r in out.results]


def test_there_are_cases() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES)
def test_what_reconcile_knows_before_rendering_is_what_is_rendered(case: str) -> None:
    """Generated objects are rendered only as they are written; reconcile decides clashes from their
    target alone, so the identity and file it computes must be the rendered object's."""
    from krm_fn import krm, ownership, pipeline, render

    analysis = pipeline.analyze(krm.parse_resource_list((TESTDATA / case / "input.yaml").read_text()))
    for planned, obj in zip(analysis.planned, analysis.generated, strict=True):
        assert render.identity(planned.target) == ownership.identity(obj)
        assert render.path_of(planned.target, analysis.config) == krm.annotations(obj)[krm.PATH]
