"""``selinon-trace`` as a shell runs it, on the trace of a real run of the example: output to a pipe keeps
whole lines (``--width`` sets one), and a forgotten argument or a bad option is click's one-line usage
error, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.conftest import REPO_ROOT, RealTrace

PIPE_ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)}  # no COLUMNS: as a script runs it


def shell(command: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m selinon_celery_trace COMMAND``, its output through ``| cat`` (a pipe, not a terminal)."""
    return subprocess.run(
        f"{sys.executable} -m selinon_celery_trace {command}",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
        env=env or PIPE_ENV,
        cwd=REPO_ROOT,
        check=False,
    )


def test_piped_output_keeps_whole_lines(real_trace: RealTrace) -> None:
    """Through a pipe, with no COLUMNS: the tree's long lines and the summary's errors are whole."""
    flow = real_trace.flows["scanned-contract"]
    piped = shell(f"show {flow} {real_trace.path} | cat")
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert max(len(line) for line in lines) > 80, "cut at 80 columns"
    wide = shell(f"--width 1000 show {flow} {real_trace.path} | cat")
    assert piped.stdout == wide.stdout, "a pipe is as wide as --width 1000"
    assert "…" not in piped.stdout
    summary = shell(f"summary {real_trace.path} | cat")
    (error_row,) = [line for line in summary.stdout.splitlines() if "UnreadableDocument" in line]
    assert "UnreadableDocument: scanned-contract: no text layer" in error_row and "…" not in error_row


@pytest.mark.parametrize("where", ["group", "command"])
def test_width_lays_out_in_that_many_columns(real_trace: RealTrace, where: str) -> None:
    """``--width N`` (on the group or on the command) fits tables and trees in N columns."""
    for command in ("summary", f"show {real_trace.flows['scanned-contract'][:8]}"):
        name, *rest = command.split()
        args = ["--width", "90", name, *rest] if where == "group" else [name, "--width", "90", *rest]
        result = shell(f"{' '.join(args)} {real_trace.path} | cat")
        assert result.returncode == 0, result.stderr
        assert max(len(line) for line in result.stdout.splitlines()) <= 90, command


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            "show {trace}",
            "Error: Missing argument 'ID': '{trace}' is a trace file; give the id to show before it",
        ),
        ("show 0123abcd", "Error: Missing argument 'FILES...': give the trace files to read after the id"),
        ("show", "Error: Missing argument 'ID'."),
        ("summary --top lots {trace}", "Error: Invalid value for '--top'"),
        ("--width 5 summary {trace}", "Error: Invalid value for '--width'"),
        ("timeline -o /nonexistent/folder/page.html {flow} {trace}", "Error: Could not open file"),
        ("watch -A no_such_module_for_selinon_trace", "Error: Invalid value for '-A' / '--app': cannot load"),
    ],
)
def test_usage_errors_are_one_line_never_a_traceback(
    real_trace: RealTrace, command: str, message: str
) -> None:
    """A forgotten argument or a bad value: exit 2 (usage) or 1, click's message, no traceback."""
    trace = str(real_trace.path)
    result = shell(command.format(trace=trace, flow=real_trace.flows["scanned-contract"]))
    assert result.returncode in (1, 2), result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(message.format(trace=trace)), result.stderr
    assert result.stdout == ""


def test_the_terminal_width_still_applies(real_trace: RealTrace) -> None:
    """COLUMNS (as a terminal sets it) is honoured: the summary fits 80 columns through a pipe too."""
    env = {**PIPE_ENV, "COLUMNS": "80"}
    result = shell(f"summary {real_trace.path} | cat", env=env)
    assert result.returncode == 0 and max(len(line) for line in result.stdout.splitlines()) <= 80
