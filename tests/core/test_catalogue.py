"""The event catalogue matches the reference's facts (kept in tests/data) and the docs' event table."""

from __future__ import annotations

import logging
import re
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
    assert {spec.name for spec in catalogue.EVENTS if spec.number < 50} == set(REFERENCE)


def test_later_selinon_names_follow_the_reference_and_celery_events_start_at_100() -> None:
    """50-52 are the names later Selinon releases added; this package's own events are numbered 100 up."""
    later = {spec.name: spec.number for spec in catalogue.EVENTS if 50 <= spec.number < 100}
    assert later == {"FLOW_SCHEDULE": 50, "STORAGE_DELETE": 51, "STORAGE_DELETED": 52}
    ours = [spec for spec in catalogue.EVENTS if spec.number >= 100]
    assert [spec.number for spec in ours] == list(range(100, 100 + len(ours)))
    assert {"TASK_REVOKED", "TASK_EXPIRED", "TASK_REJECTED", "WORKER_ONLINE", "WORKER_OFFLINE"} <= {
        spec.name for spec in ours
    }
    for spec in (*ours, *(catalogue.BY_NAME[name] for name in later)):
        assert getattr(Trace, spec.name) == spec.number, spec.name
        assert Trace.event2str(spec.number) == spec.name
        assert catalogue.origin(spec.number) != "Selinon"


def test_warn_events_are_the_reference_tuple() -> None:
    """WARN_EVENTS is exactly the reference's tuple, order included."""
    assert len(WARN) == 14
    assert Trace.WARN_EVENTS == WARN
    assert catalogue.WARN_EVENTS == WARN


def test_catalogue_is_indexed_by_number_and_complete() -> None:
    """Events are in number order, found by number and name, each with a description, emitter and keys."""
    numbers = [spec.number for spec in catalogue.EVENTS]
    assert numbers == sorted(set(numbers))
    assert numbers[:53] == list(range(53))
    for spec in catalogue.EVENTS:
        assert catalogue.BY_NUMBER[spec.number] is spec is catalogue.BY_NAME[spec.name]
        assert catalogue.NAMES[spec.number] == spec.name
        assert spec.description and spec.emitter and spec.keys


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
    """DISPATCHER_FAILURE logs at ERROR, WARN_EVENTS (and this package's extension) at WARNING, else INFO."""
    extension = set(catalogue.EXTENSION_WARN_EVENTS)
    assert all(number >= 100 for number in extension)
    assert set(WARN) | extension == catalogue.WARNING_EVENTS
    for spec in catalogue.EVENTS:
        if spec.number == Trace.DISPATCHER_FAILURE:
            assert spec.level == logging.ERROR
        elif spec.number in WARN or spec.number in extension:
            assert spec.level == logging.WARNING
        else:
            assert spec.level == logging.INFO


def test_docs_event_table_is_generated_from_the_catalogue() -> None:
    """docs/events.md has the catalogue's table verbatim (`python -m selinon_celery_trace.core.catalogue`)."""
    events_page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    assert catalogue.markdown_table() in events_page


def test_docs_map_selinon_1_1_numbers_to_names() -> None:
    """docs/events.md maps every Selinon 1.1+ number to its name: FLOW_SCHEDULE at 1, later events one up."""
    page = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    section = page.split("## Selinon's numbers", 1)[1]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d+) \| (\d+) \|$", section, re.MULTILINE)
    ours = {name: int(number) for name, number, _ in rows}
    theirs = {name: int(number) for name, _, number in rows}
    selinon = {spec.name: spec.number for spec in catalogue.EVENTS if spec.number <= 52}
    assert ours == selinon  # every Selinon name, with this package's number
    assert sorted(theirs.values()) == list(range(53))
    assert theirs["DISPATCHER_WAKEUP"] == 0 and theirs["FLOW_SCHEDULE"] == 1
    assert theirs["STORAGE_DELETE"] == 51 and theirs["STORAGE_DELETED"] == 52
    assert all(theirs[name] == number + 1 for name, number in selinon.items() if 1 <= number <= 49)
