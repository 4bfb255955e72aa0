"""Which queue a message went to: the name, or None when it cannot be known for sure."""

from __future__ import annotations

import pytest
from kombu import Exchange, Queue, binding

from selinon_celery_trace.celery.queues import resolve_queue, topic_matches


class Queues(dict[str, Queue]):
    """The shape of ``app.amqp.queues``: a mapping of names, with the subset this worker consumes."""

    def __init__(self, *queues: Queue, consume: tuple[str, ...] = ()) -> None:
        super().__init__((q.name, q) for q in queues)
        self.consume_from = {name: self[name] for name in consume} if consume else self


@pytest.mark.parametrize(
    ("binding_key", "routing_key", "expected"),
    [
        ("jobs.*", "jobs.pdf", True),
        ("jobs.*", "jobs.pdf.render", False),
        ("jobs.#", "jobs", True),
        ("jobs.#", "jobs.pdf.render", True),
        ("#.render", "jobs.pdf.render", True),
        ("a.#.c", "a.c", True),
        ("a.#.c", "a.b.b.c", True),
        ("a.#.c", "a.b", False),
        ("*.x", "x", False),
        ("reports.daily", "reports.daily", True),
        ("reports.daily", "reports.dailyx", False),
    ],
)
def test_topic_matching(binding_key: str, routing_key: str, expected: bool) -> None:
    """AMQP topic rules: '*' is one word, '#' zero or more words."""
    assert topic_matches(binding_key, routing_key) is expected


def test_default_exchange_routes_by_queue_name() -> None:
    """Under the default exchange the routing key is the queue's name."""
    assert resolve_queue(Queues(), "", "celery") == "celery"


def test_direct_and_topic_exchanges_resolve_to_the_queue_name() -> None:
    """A routing key different from the queue name still resolves, through the queue's bindings."""
    queues = Queues(
        Queue("direct-reports", Exchange("reports", type="direct"), routing_key="reports.daily"),
        Queue("topic-jobs", Exchange("jobs", type="topic"), routing_key="jobs.#"),
        Queue("extra", bindings=[binding(Exchange("misc", type="direct"), routing_key="misc.one")]),
    )
    assert resolve_queue(queues, "reports", "reports.daily") == "direct-reports"
    assert resolve_queue(queues, "jobs", "jobs.pdf.render") == "topic-jobs"
    assert resolve_queue(queues, "misc", "misc.one") == "extra"
    assert resolve_queue(queues, "reports", "reports.weekly") is None


def test_ambiguity_gives_none_unless_the_worker_consumes_one() -> None:
    """Two bound queues: None from a publisher; the consumed one from a worker that consumes only it."""
    fanout = Exchange("broadcast", type="fanout")
    queues = Queues(Queue("a", fanout), Queue("b", fanout), consume=("b",))
    assert resolve_queue(queues, "broadcast", "anything") is None
    assert resolve_queue(queues, "broadcast", "anything", consuming=True) == "b"


def test_unknown_or_odd_input_is_none() -> None:
    """Unknown exchanges, missing routing keys and eager requests give None, never a wrong name."""
    assert resolve_queue(Queues(), "nowhere", "key") is None
    assert resolve_queue(Queues(), "celery", None) is None
    assert resolve_queue(Queues(), None, None) is None
