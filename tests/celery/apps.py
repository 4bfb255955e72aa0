"""The tasks and flows the integration tests run, registered on the session's app before its worker starts."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from celery.exceptions import Ignore, Reject

from selinon_celery_trace import Dispatcher


def register_tasks(app: Any) -> SimpleNamespace:
    """The plain tasks of the integration tests."""

    @app.task(name="tests.add")
    def add(x: int, y: int) -> int:
        return x + y

    @app.task(name="tests.fail")
    def fail() -> None:
        raise ValueError("boom")

    @app.task(name="tests.retry_once", bind=True, max_retries=3)
    def retry_once(self: Any) -> str:
        if self.request.retries < 1:
            raise self.retry(countdown=0, exc=KeyError("transient"))
        return "ok"

    @app.task(
        name="tests.auto",
        autoretry_for=(ValueError,),
        max_retries=2,
        retry_backoff=False,
        default_retry_delay=0,
    )
    def auto() -> None:
        raise ValueError("always")

    @app.task(name="tests.exhaust", bind=True, max_retries=1)
    def exhaust(self: Any) -> None:
        raise self.retry(countdown=0)

    @app.task(name="tests.ignore")
    def ignore() -> None:
        raise Ignore()

    @app.task(name="tests.reject")
    def reject() -> None:
        raise Reject("bad message", requeue=False)

    @app.task(name="tests.unstored", ignore_result=True)
    def unstored() -> dict[str, int]:
        return {"answer": 42}

    @app.task(name="tests.parent", bind=True)
    def parent(self: Any) -> str:
        return add.delay(1, 2).id  # type: ignore[no-any-return]

    @app.task(name="tests.report")
    def report(**kwargs: Any) -> None:
        return None

    @app.task(name="tests.headers", bind=True)
    def headers(self: Any) -> Any:
        return self.request.get("x_user_header")

    @app.task(name="tests.replace_later", bind=True)
    def replace_later(self: Any, x: int) -> Any:
        # Task.replace with a replacement that waits for its ETA (time to revoke it before it starts).
        return self.replace(add.s(x, 1).set(countdown=2))

    return SimpleNamespace(
        **{
            t.__name__: t
            for t in (
                add,
                fail,
                retry_once,
                auto,
                exhaust,
                ignore,
                reject,
                unstored,
                parent,
                report,
                headers,
                replace_later,
            )
        }
    )


def register_flows(app: Any) -> SimpleNamespace:
    """The flow tasks and dispatchers of the integration tests."""
    fast = {"base": Dispatcher, "bind": True, "check_interval": 0.05, "shared": False}

    @app.task(name="flow.double", shared=False)
    def double(x: int) -> int:
        return x * 2

    @app.task(name="flow.total", shared=False)
    def total(*values: int) -> int:
        return sum(values)

    @app.task(name="flow.broken", shared=False)
    def broken() -> None:
        raise RuntimeError("node broke")

    @app.task(name="flow.flaky", bind=True, max_retries=3, shared=False)
    def flaky(self: Any) -> str:
        if self.request.retries < 1:
            raise self.retry(countdown=0)
        return "ok"

    @app.task(name="flow.spawner", bind=True, shared=False)
    def spawner(self: Any) -> str:
        return double.delay(21).id  # type: ignore[no-any-return]

    @app.task(name="flow.linear", **fast)
    def linear(self: Any, x: int) -> Any:
        flow = self.flow
        if flow.is_new:
            flow.schedule("first", double.s(x))
        for node in flow.finished:
            if node.name == "first":
                flow.schedule("second", double.s(node.result))
            elif node.name == "second":
                return node.result
        return None

    @app.task(name="flow.fanout", **fast)
    def fanout(self: Any, n: int) -> Any:
        flow = self.flow
        if flow.is_new:
            for i in range(n):
                flow.schedule(f"double-{i}", double.s(i))
        doubles = [node for node in flow.nodes if node.name.startswith("double")]
        if all(node.succeeded for node in doubles) and not any(node.name == "total" for node in flow.nodes):
            flow.schedule("total", total.s(*[node.result for node in doubles]))
        finished_total = [node for node in flow.finished if node.name == "total"]
        return finished_total[0].result if finished_total else None

    @app.task(name="flow.with_retry", **fast)
    def with_retry(self: Any) -> None:
        if self.flow.is_new:
            self.flow.schedule("flaky", flaky.s())

    @app.task(name="flow.failing", **fast)
    def failing(self: Any) -> None:
        if self.flow.is_new:
            self.flow.schedule("ok", double.s(1))
            self.flow.schedule("broken", broken.s())

    @app.task(name="flow.recovering", **fast)
    def recovering(self: Any) -> str:
        flow = self.flow
        if flow.is_new:
            flow.schedule("broken", broken.s())
        for node in flow.finished:
            if node.failed:
                flow.recover(node)
                flow.schedule("fallback", double.s(0))
        return "recovered"

    @app.task(name="flow.buggy", **fast)
    def buggy(self: Any) -> None:
        raise KeyError("dispatcher bug")

    @app.task(name="flow.child", **fast)
    def child(self: Any) -> None:
        if self.flow.is_new:
            self.flow.schedule("inner", double.s(5))

    @app.task(name="flow.parent", **fast)
    def parent(self: Any) -> None:
        if self.flow.is_new:
            self.flow.schedule("subflow", child.s())

    @app.task(name="flow.grand", **fast)
    def grand(self: Any) -> None:
        if self.flow.is_new:
            self.flow.schedule("spawner", spawner.s())

    return SimpleNamespace(**{k: v for k, v in locals().items() if k not in ("app", "fast")})
