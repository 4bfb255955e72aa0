"""End to end: two prefork workers ("hosts") publish trace events over the broker; ``watch`` gets them all."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import brokers
from tests.brokers import RestartableRedis
from tests.sinks.events.proj import make_app
from tests.sinks.events.support import WatchProcess, WorkerProcess, wait_for


def _same(watched: list[str], written: list[str]) -> None:
    """Assert the watcher received exactly the written events: none missing, none twice."""
    missing, extra = Counter(written) - Counter(watched), Counter(watched) - Counter(written)
    assert not missing and not extra, f"missing: {list(missing)}\nextra or duplicated: {list(extra)}"


def _flow_events(records: list[dict[str, Any]], flow_id: str) -> list[str]:
    """The canonical text of each event of one flow (its dispatcher's and its nodes'), sorted."""
    # Without "time": each sink stamps the event itself, so the file's and the broker's copies of one
    # event differ by microseconds.
    return sorted(
        json.dumps({key: value for key, value in record.items() if key != "time"}, sort_keys=True)
        for record in records
        if record["details"].get("dispatcher_id") == flow_id
    )


class Run:
    """Two workers on one broker, one consuming queue a (the flow and ``ev.left``), one queue b."""

    def __init__(self, broker_url: str, result_url: str, directory: Path) -> None:
        self.token = uuid.uuid4().hex[:8]
        self.prefix = f"ev-{self.token}."
        self.env = {"EV_BROKER_URL": broker_url, "EV_RESULT_BACKEND": result_url, "EV_PREFIX": self.prefix}
        self.app = make_app(self.env)  # the test publishes with it; it is not traced here
        self.directory = directory
        self.workers = [
            WorkerProcess(self.app, self.env, f"left-{self.token}@host-a", f"{self.prefix}a", directory),
            WorkerProcess(self.app, self.env, f"right-{self.token}@host-b", f"{self.prefix}b", directory),
        ]
        self.watcher: WatchProcess | None = None

    def start(self) -> None:
        for worker in self.workers:
            worker.start()
        self.watcher = WatchProcess(self.env, self.directory)
        for worker in self.workers:
            worker.wait_ready()

    def written(self) -> list[dict[str, Any]]:
        """Every event the workers wrote to their files (the ground truth)."""
        return [record for worker in self.workers for record in worker.records()]

    def watched(self) -> list[dict[str, Any]]:
        assert self.watcher is not None
        return self.watcher.records()

    def run_flow(self, value: int) -> str:
        """Submit one flow and wait until the workers wrote its FLOW_END; return its id."""
        flow_id = str(self.app.send_task("ev.flow", args=[value]).id)
        wait_for(
            lambda: any(
                r["event"] == "FLOW_END" and r["details"].get("dispatcher_id") == flow_id
                for r in self.written()
            ),
            f"flow {flow_id} to end",
        )
        return flow_id

    def wait_watched(self, flow_id: str) -> list[str]:
        """Wait until the watcher received as many of the flow's events as were written; return them."""
        expected = len(_flow_events(self.written(), flow_id))
        wait_for(lambda: len(_flow_events(self.watched(), flow_id)) >= expected, f"flow {flow_id} in watch")
        time.sleep(1.0)  # a duplicate arriving late must be seen by the assertions
        return _flow_events(self.watched(), flow_id)

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        if self.watcher is not None:
            self.watcher.stop()

    def failure_report(self) -> str:
        parts = [f"--- {w.node}\n{w.log_tail()}" for w in self.workers]
        if self.watcher is not None:
            parts.append(f"--- watch\n{self.watcher.messages()[-3000:]}")
        return "\n".join(parts)


def _delete_queues(run: Run, broker: str) -> None:
    if broker == "redis":
        brokers.delete_redis_keys(run.env["EV_BROKER_URL"], f"*{run.prefix}*")
        return
    from kombu import Connection

    with Connection(run.env["EV_BROKER_URL"], connect_timeout=5) as connection:
        for queue in (f"{run.prefix}a", f"{run.prefix}b"):
            connection.default_channel.queue_delete(queue)


@pytest.fixture(scope="module")
def result_url() -> str:
    """Results are kept in Redis for both brokers (the flow's dispatcher reads its nodes' states)."""
    return brokers.redis_url()


@pytest.fixture(params=["redis", "amqp"])
def two_hosts(request: pytest.FixtureRequest, result_url: str, tmp_path: Path) -> Iterator[Run]:
    """Two workers and a watcher on Redis, then on RabbitMQ."""
    url = result_url if request.param == "redis" else brokers.amqp_url()
    run = Run(url, result_url, tmp_path)
    try:
        run.start()
        yield run
    finally:
        try:
            run.stop()
        finally:
            _delete_queues(run, request.param)


def test_watch_receives_every_event_of_a_two_host_flow_exactly_once(two_hosts: Run) -> None:
    """Every trace event the two workers wrote for a flow reaches the watcher once, from both hosts."""
    try:
        flow_ids = [two_hosts.run_flow(value) for value in (1, 2)]
        for flow_id in flow_ids:
            watched = two_hosts.wait_watched(flow_id)
            written = _flow_events(two_hosts.written(), flow_id)
            _same(watched, written)
            starts = [json.loads(line) for line in watched if '"event": "TASK_START"' in line]
            hosts = {record["details"]["hostname"] for record in starts}
            assert hosts == {w.node for w in two_hosts.workers}
            names = [json.loads(line)["event"] for line in watched]
            assert names.count("FLOW_END") == 1 and names.count("TASK_END") == 3
    except BaseException:
        print(two_hosts.failure_report())
        raise


def test_watch_receives_a_rejected_message_and_a_worker_going_offline(two_hosts: Run) -> None:
    """The worker's main process's events travel too: a rejected message, and its warm shutdown."""
    try:
        unknown = str(two_hosts.app.send_task("ev.nope", args=[1]).id)  # queue a: host-a has no such task
        wait_for(
            lambda: any(r["details"].get("task_id") == unknown for r in two_hosts.watched()),
            "the rejected message in watch",
        )
        left = two_hosts.workers[0]
        left.stop()
        wait_for(
            lambda: any(
                r["event"] == "WORKER_OFFLINE" and r["details"].get("hostname") == left.node
                for r in two_hosts.watched()
            ),
            f"{left.node} going offline in watch",
        )
        time.sleep(1.0)  # a duplicate arriving late must be seen
        watched = two_hosts.watched()
        (rejected,) = [r for r in watched if r["details"].get("task_id") == unknown]  # once, not twice
        assert rejected["event"] == "TASK_REJECTED" and rejected["details"]["kind"] == "unregistered"
        assert rejected["details"]["hostname"] == left.node
        (offline,) = [
            r for r in watched if r["event"] == "WORKER_OFFLINE" and r["details"]["hostname"] == left.node
        ]
        assert offline["details"]["reason"] == "warm"
    except BaseException:
        print(two_hosts.failure_report())
        raise


def test_watch_and_workers_survive_a_broker_restart(result_url: str, tmp_path: Path) -> None:
    """After a Redis restart the watcher and workers reconnect, new events arrive, drops are reported."""
    redis = RestartableRedis()
    redis.start()
    run = Run(redis.url, result_url, tmp_path)
    try:
        run.start()
        before = run.run_flow(1)
        _same(run.wait_watched(before), _flow_events(run.written(), before))

        count, interval = 60, 0.05
        chatter_id = str(run.app.send_task("ev.chatter", args=[count, interval]).id)
        wait_for(
            lambda: any(r["event"] == "STORAGE_STORE" for r in run.watched()),
            "chatter events before the outage",
        )
        redis.stop(kill=True)
        time.sleep(2.0)
        redis.start()

        assert run.watcher is not None
        watcher = run.watcher
        wait_for(lambda: "dropped" in watcher.messages(), "the dropped-events report")
        wait_for(lambda: watcher.messages().count("watching") >= 2, "the watcher to consume again")
        after = run.run_flow(2)
        _same(run.wait_watched(after), _flow_events(run.written(), after))

        # The outage never slowed the task that was emitting events through it.
        ends = [
            r for r in run.written() if r["event"] == "TASK_END" and r["details"].get("task_id") == chatter_id
        ]
        assert ends and ends[0]["details"]["runtime"] < count * interval + 1.5
        assert "lost the broker connection" in watcher.messages()
    except BaseException:
        print(run.failure_report())
        raise
    finally:
        try:
            run.stop()
        finally:
            redis.close()
