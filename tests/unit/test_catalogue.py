"""The event catalogue matches the reference text and README."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from selinon_celery_trace import Trace, catalogue

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "selinon_trace_reference.txt"


def _reference_text() -> str:
    if not REFERENCE.exists():
        pytest.fail(f"the reference text is missing at {REFERENCE}")
    return REFERENCE.read_text(encoding="utf-8")


def test_every_reference_constant_has_the_same_number() -> None:
    """Each `NAME = number` line of the reference matches Trace and the catalogue exactly."""
    constants = dict(re.findall(r"^([A-Z_]+) = (\d+)$", _reference_text(), re.MULTILINE))
    assert len(constants) == 50
    for name, number in constants.items():
        assert getattr(Trace, name) == int(number), name
        assert catalogue.BY_NAME[name].number == int(number), name
    assert {spec.name for spec in catalogue.EVENTS} == set(constants)


def test_warn_events_are_the_reference_tuple() -> None:
    """WARN_EVENTS is exactly the reference's tuple, order included."""
    match = re.search(r"^WARN_EVENTS = (\(.*\))$", _reference_text(), re.MULTILINE)
    assert match is not None
    assert tuple(int(n) for n in match.group(1).strip("()").split(",")) == Trace.WARN_EVENTS


def test_catalogue_is_indexed_by_number_and_complete() -> None:
    """EVENTS[n] is event n, and every event has a description, an emitter and detail keys."""
    for number, spec in enumerate(catalogue.EVENTS):
        assert spec.number == number
        assert spec.description and spec.emitter and spec.keys
    assert len(catalogue.EVENTS) == 50


def test_reference_descriptions_are_kept() -> None:
    """Every event the reference describes is described in the catalogue too, by its own name."""
    described = re.findall(r"^([A-Z][A-Z_]+) [A-Z][a-z ]", _reference_text(), re.MULTILINE)
    assert len(set(described)) == 41
    assert set(described) <= set(catalogue.BY_NAME)


def test_levels_follow_the_reference_rule() -> None:
    """DISPATCHER_FAILURE logs at ERROR, WARN_EVENTS at WARNING, everything else at INFO."""
    for spec in catalogue.EVENTS:
        if spec.number == Trace.DISPATCHER_FAILURE:
            assert spec.level == logging.ERROR
        elif spec.number in Trace.WARN_EVENTS:
            assert spec.level == logging.WARNING
        else:
            assert spec.level == logging.INFO


def test_readme_event_table_is_generated_from_the_catalogue() -> None:
    """README carries the catalogue's table verbatim (python -m selinon_celery_trace.catalogue prints it)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert catalogue.markdown_table() in readme
