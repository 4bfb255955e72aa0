"""Which queue a message went to, from its exchange and routing key and the app's declared queues.

Answers ``None`` when it cannot be sure (unknown exchange, several matching queues, eager mode): a
missing queue name is better than a wrong one.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

__all__ = ["resolve_queue", "topic_matches"]


def _topic_words(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    # AMQP topic syntax: "*" matches exactly one word, "#" zero or more words.
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        return any(_topic_words(rest, words[start:]) for start in range(len(words) + 1))
    return bool(words) and head in ("*", words[0]) and _topic_words(rest, words[1:])


@lru_cache(maxsize=1024)
def topic_matches(binding_key: str, routing_key: str) -> bool:
    """True when ``routing_key`` matches the topic ``binding_key`` (``*`` one word, ``#`` any)."""
    return _topic_words(tuple(binding_key.split(".")), tuple(routing_key.split(".")))


def _bindings(queue: Any) -> list[tuple[str, str, str]]:
    """(exchange name, exchange type, binding key) for each way ``queue`` receives messages."""
    found = []
    exchange = getattr(queue, "exchange", None)
    if exchange is not None:
        found.append((exchange.name or "", exchange.type or "direct", queue.routing_key or ""))
    for binding in getattr(queue, "bindings", None) or ():
        ex = binding.exchange
        found.append((ex.name or "", ex.type or "direct", binding.routing_key or ""))
    return found


def _matches(kind: str, binding_key: str, routing_key: str) -> bool:
    if kind == "fanout":
        return True
    if kind == "topic":
        return topic_matches(binding_key, routing_key)
    if kind == "headers":
        return False  # header matching needs the message headers; not resolved
    return binding_key == routing_key


def resolve_queue(queues: Any, exchange: Any, routing_key: Any, consuming: bool = False) -> str | None:
    """Return the name of the one declared queue the message goes to, or ``None`` when unsure.

    ``queues`` is ``app.amqp.queues``; with ``consuming=True`` only the queues this worker consumes
    from are candidates (a message delivered to this worker came from one of them).
    """
    if not isinstance(routing_key, str):
        return None
    exchange_name = getattr(exchange, "name", exchange)
    if not exchange_name:
        # The default exchange routes by queue name.
        return routing_key or None
    if not isinstance(exchange_name, str):
        return None
    try:
        candidates = queues.consume_from if consuming else queues
        found = {
            name
            for name, queue in candidates.items()
            for ex_name, kind, key in _bindings(queue)
            if ex_name == exchange_name and _matches(kind, key, routing_key)
        }
    except Exception:
        return None
    return found.pop() if len(found) == 1 else None
