"""The event catalogue matches the reference's facts (kept in tests/data) and the docs' event table."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

from selinon_celery_trace import Trace
from selinon_celery_trace.core import catalogue

ROOT = Path(__file__).resolve().parents[2]
FACTS = ROOT / "tests" / "data" / "reference_events.tsv"

# Where the catalogue says more than the reference, on purpose.
WIDER_EMITTER = {
    "TASK_SCHEDULE": "any task publishes tasks in a Celery app, not only a dispatcher",
    "STORAGE_DISCONNECT": "user code emits storage events; there is no storage adapter here",
}


class ReferenceEvent(NamedTuple):
    number: int
    name: str
    emitter: str
    keys: tuple[str, ...]
    description: str


def _facts() -> tuple[tuple[int, ...], dict[str, ReferenceEvent]]:
    """The reference's WARN_EVENTS and its events by name, as tests/data/reference_events.tsv keeps them."""
    warn: tuple[int, ...] = ()
    events: dict[str, ReferenceEvent] = {}
    for line in FACTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("number\t"):
            continue
        fields = line.split("\t")
        if fields[0] == "WARN_EVENTS":
            warn = tuple(int(number) for number in fields[1].split())
            continue
        number, name, emitter, keys, description = fields
        listed = tuple(key.strip() for key in keys.split(",") if key.strip())
        events[name] = ReferenceEvent(int(number), name, emitter, listed, description)
    return warn, events


WARN, REFERENCE = _facts()


def test_every_reference_constant_has_the_same_number() -> None:
    """Each of the reference's 50 constants has the same number in Trace and in the catalogue."""
    assert len(REFERENCE) == 50
    for name, fact in REFERENCE.items():
        assert getattr(Trace, name) == fact.number, name
        assert catalogue.BY_NAME[name].number == fact.number, name
    assert {spec.name for spec in catalogue.EVENTS} == set(REFERENCE)


def test_warn_events_are_the_reference_tuple() -> None:
    """WARN_EVENTS is exactly the reference's tuple, order included."""
    assert len(WARN) == 14
    assert Trace.WARN_EVENTS == WARN
    assert catalogue.WARN_EVENTS == WARN


def test_catalogue_is_indexed_by_number_and_complete() -> None:
    """EVENTS[n] is event n, and every event has a description, an emitter and detail keys."""
    for number, spec in enumerate(catalogue.EVENTS):
        assert spec.number == number
        assert spec.description and spec.emitter and spec.keys
    assert len(catalogue.EVENTS) == 50


def test_reference_descriptions_are_kept() -> None:
    """The 41 events the reference describes keep its emitter and at least the detail keys it lists."""
    described = {name: fact for name, fact in REFERENCE.items() if fact.description}
    assert len(described) == 41
    for name, fact in described.items():
        spec = catalogue.BY_NAME[name]
        assert set(fact.keys) <= set(spec.keys), name
        if name in WIDER_EMITTER:
            assert spec.emitter != fact.emitter, f"{name}: the deviation is gone; drop it from WIDER_EMITTER"
        else:
            assert spec.emitter == fact.emitter, name


def test_levels_follow_the_reference_rule() -> None:
    """DISPATCHER_FAILURE logs at ERROR, WARN_EVENTS at WARNING, everything else at INFO."""
    for spec in catalogue.EVENTS:
        if spec.number == Trace.DISPATCHER_FAILURE:
            assert spec.level == logging.ERROR
        elif spec.number in WARN:
            assert spec.level == logging.WARNING
        else:
            assert spec.level == logging.INFO


def test_docs_event_table_is_generated_from_the_catalogue() -> None:
    """docs/events.md has the catalogue's table verbatim (`python -m selinon_celery_trace.core.catalogue`)."""
    events_page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert catalogue.markdown_table() in events_page
