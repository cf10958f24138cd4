"""Running the CLI in-process for tests, and the shape every bad-input error must have."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from datacanary.cli import app

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``datacanary ARGS``; unexpected exceptions re-raise."""
    result = runner.invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def assert_one_line_error(code: int, stdout: str, stderr: str, pattern: str) -> None:
    """Exit 2, exactly one ``error: ...`` line on stderr matching ``pattern``, no traceback."""
    assert code == 2, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    assert re.search(pattern, lines[0]), lines[0]
