"""Enabling tracing: install twice, uninstall, configuration from app.conf, auto-install."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from celery import Celery, signals

import selinon_celery_trace
from selinon_celery_trace import Trace
from selinon_celery_trace.celery import execution
from selinon_celery_trace.celery.runtime import runtime
from selinon_celery_trace.testing import capture_events


def _app(**conf: Any) -> Celery:
    app = Celery("install-tests", broker="memory://", set_as_current=False)
    app.conf.update(task_always_eager=False, **conf)

    @app.task(name="install.add", shared=False)
    def add(x: int, y: int) -> int:
        return x + y

    return app


def test_install_twice_gives_one_event_per_occurrence(tmp_path: Path) -> None:
    """Two installs (and a repeated connect) still write each event once."""
    path = tmp_path / "t.jsonl"
    app = _app(selinon_trace=[{"json": {"path": str(path)}}])
    selinon_celery_trace.install(app)
    selinon_celery_trace.install(app)
    try:
        app.tasks["install.add"].apply((1, 2))
    finally:
        selinon_celery_trace.uninstall(app)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["TASK_START", "TASK_END"]


def test_uninstall_disconnects_everything(tmp_path: Path) -> None:
    """After uninstall no receiver is connected and the configured sinks are gone."""
    app = _app(selinon_trace=[{"json": {"path": str(tmp_path / "t.jsonl")}}])
    before = {len(s.receivers) for s in (signals.task_prerun, signals.before_task_publish)}
    selinon_celery_trace.install(app)
    assert len(Trace.sinks()) == 1
    selinon_celery_trace.uninstall(app)
    assert Trace.sinks() == ()
    assert {len(s.receivers) for s in (signals.task_prerun, signals.before_task_publish)} == before
    with capture_events() as events:
        app.tasks["install.add"].apply((1, 2))
    assert events == []


def _named_hooks() -> list[tuple[type, str]]:
    from billiard.pool import Pool, TimeoutHandler
    from celery.beat import Scheduler
    from celery.worker import WorkController
    from celery.worker.consumer.consumer import Consumer

    return [
        (Consumer, "on_decode_error"),
        (Pool, "mark_as_worker_lost"),
        (Pool, "_join_exited_workers"),
        (TimeoutHandler, "_trywaitkill"),
        (WorkController, "stop"),
        (WorkController, "terminate"),
        (Scheduler, "apply_async"),
    ]


def test_named_hooks_are_put_once_and_taken_out() -> None:
    """Installing twice wraps each hooked method once; uninstall gives every class its own method back."""
    app = _app()
    hooks = _named_hooks()
    selinon_celery_trace.uninstall(app)
    originals = [getattr(owner, name) for owner, name in hooks]
    assert not any(hasattr(method, "__wrapped__") for method in originals)
    selinon_celery_trace.install(app)
    selinon_celery_trace.install(app)
    try:
        for (owner, name), original in zip(hooks, originals, strict=True):
            assert getattr(owner, name).__wrapped__ is original, (owner, name)
    finally:
        selinon_celery_trace.uninstall(app)
    assert [getattr(owner, name) for owner, name in hooks] == originals


def test_every_receiver_of_the_tables_is_connected() -> None:
    """Each receiver install connects is really connected (two sharing a dispatch_uid would connect one)."""
    from selinon_celery_trace.celery import hooks

    app = _app()
    selinon_celery_trace.install(app)
    try:
        for signal, receiver in hooks.ALWAYS:
            connected = [entry[1] for entry in signal.receivers]
            assert receiver in connected, (signal.name, receiver.__qualname__)
    finally:
        selinon_celery_trace.uninstall(app)


def test_no_sink_connects_no_worker_receiver() -> None:
    """Installed with no sink, the worker's hot path has no receiver at all; adding a sink connects them.

    TASK_START and TASK_END never cost a signal dispatch: they come from Celery's task tracer.
    """
    app = _app()
    selinon_celery_trace.install(app)
    hot = (signals.task_prerun, signals.task_postrun, signals.task_success, signals.task_failure)
    try:
        assert not any(signal.receivers for signal in hot)
        with capture_events() as events:
            assert signals.task_failure.receivers and signals.task_retry.receivers
            assert not signals.task_prerun.receivers and not signals.task_postrun.receivers
            app.tasks["install.add"].apply((1, 2))
        assert events.names() == ["TASK_START", "TASK_END"]
        assert not any(signal.receivers for signal in hot)
        assert not execution._tracing, "no sink left: the tracer wrapper passes straight through"
    finally:
        selinon_celery_trace.uninstall(app)


def test_uninstall_restores_celerys_tracer() -> None:
    """After uninstall, Celery builds its own task tracers again, unwrapped."""
    from celery.app import trace as celery_trace

    original = celery_trace.build_tracer
    app = _app()
    selinon_celery_trace.install(app)
    assert celery_trace.build_tracer is not original
    selinon_celery_trace.uninstall(app)
    assert celery_trace.build_tracer is original


def test_a_tracer_built_before_install_is_traced() -> None:
    """A worker that built its task tracers before install (as a running solo worker has) still traces."""
    from celery.app import trace as celery_trace

    app = _app()
    task = app.tasks["install.add"]
    task.__trace__ = celery_trace.build_tracer(task.name, task, app=app)
    selinon_celery_trace.install(app)
    try:
        with capture_events() as events:
            outcome = celery_trace.trace_task(task, "early-1", (2, 3), {}, {"id": "early-1"}, app=app)
        assert outcome.retval == 5
        assert events.names() == ["TASK_START", "TASK_DISCARD_RESULT", "TASK_END"]  # no result backend
        assert events.of("TASK_START")[0]["task_id"] == "early-1"
    finally:
        selinon_celery_trace.uninstall(app)
    assert getattr(task.__trace__, "__wrapped__", None) is None, "uninstall unwraps the tracer"


def test_receivers_survive_garbage_collection() -> None:
    """Receivers are connected strongly: a gc.collect() does not silently stop tracing."""
    import gc

    app = _app()
    selinon_celery_trace.install(app)
    try:
        with capture_events() as events:
            gc.collect()
            app.tasks["install.add"].apply((1, 2))
        assert events.names() == ["TASK_START", "TASK_END"]
    finally:
        selinon_celery_trace.uninstall(app)


def test_event_filter_from_configuration(tmp_path: Path) -> None:
    """selinon_trace_events include/exclude decide what reaches the sinks."""
    path = tmp_path / "t.jsonl"
    app = _app(
        selinon_trace=[{"json": {"path": str(path)}}], selinon_trace_events={"exclude": ["TASK_START"]}
    )
    selinon_celery_trace.install(app)
    try:
        app.tasks["install.add"].apply((1, 2))
    finally:
        selinon_celery_trace.uninstall(app)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["TASK_END"]


def test_django_style_namespace(tmp_path: Path) -> None:
    """Settings loaded with namespace='CELERY' (Django) are found under their CELERY_ names."""

    class Settings:
        CELERY_BROKER_URL = "memory://"
        CELERY_SELINON_TRACE = [{"json": {"path": str(tmp_path / "django.jsonl")}}]
        CELERY_SELINON_TRACE_REDACT = ["ssn"]

    app = Celery("django-like", set_as_current=False)
    app.config_from_object(Settings, namespace="CELERY")

    @app.task(name="django.task", shared=False)
    def task(ssn: str, password: str) -> None:
        return None

    selinon_celery_trace.install(app)
    try:
        task.apply(kwargs={"ssn": "123", "password": "visible"})
    finally:
        selinon_celery_trace.uninstall(app)
    start = json.loads((tmp_path / "django.jsonl").read_text().splitlines()[0])
    assert start["details"]["node_args"]["kwargs"] == {"ssn": "[redacted]", "password": "visible"}


def test_auto_module_installs_from_imports(tmp_path: Path) -> None:
    """Listing selinon_celery_trace.auto in `imports` installs tracing when the worker loads its modules."""
    path = tmp_path / "auto.jsonl"
    code = textwrap.dedent(
        f"""
        from celery import Celery
        app = Celery("auto", broker="memory://")
        app.conf.imports = ["selinon_celery_trace.auto"]
        app.conf.selinon_trace = [{{"json": {{"path": {str(path)!r}}}}}]

        @app.task(name="auto.add")
        def add(x, y):
            return x + y

        app.loader.import_default_modules()  # what the worker does at start
        add.apply((1, 2))
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["TASK_START", "TASK_END"]


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"selinon_trace": [{"jsonn": True}]}, r"selinon_trace\[0\]: unknown sink 'jsonn'"),
        ({"selinon_trace": [{"json": {"file": "x"}}]}, r"selinon_trace\[0\]\.json: unknown option 'file'"),
        (
            {"selinon_trace": [{"logging": True}, {"storage": {"name": "MyStorage", "method": "trace"}}]},
            r"selinon_trace\[1\]\.storage: Selinon's storage tracing .* 'MyStorage' .* Use a function sink",
        ),
        ({"selinon_trace": [{"sentry": {}}]}, r"selinon_trace\[0\]\.sentry: no 'dsn', and no Sentry client"),
        ({"selinon_trace": ["logging"]}, r"selinon_trace\[0\]: each entry maps sink names to options"),
        ({"selinon_trace": "json"}, r"selinon_trace: expected a list of sinks"),
        (
            {"selinon_trace": [{"function": {"import": "no.such.module", "name": "f"}}]},
            r"selinon_trace\[0\]\.function: cannot import module 'no.such.module'",
        ),
        (
            {"selinon_trace": [{"function": {"import": "json", "name": "nope"}}]},
            r"selinon_trace\[0\]\.function: module 'json' has no callable 'nope'",
        ),
        (
            {"selinon_trace": [{"json": {"path": "/no/such/dir/t.jsonl"}}]},
            r"selinon_trace\[0\]\.json: cannot open",
        ),
        ({"selinon_trace_events": ["TASK_BEGIN"]}, r"selinon_trace_events: unknown event 'TASK_BEGIN'"),
        ({"selinon_trace_events": {"only": ["TASK_START"]}}, r"selinon_trace_events: unknown key 'only'"),
        ({"selinon_trace_redact": "password"}, r"selinon_trace_redact: expected a list of key names"),
        ({"selinon_trace_redact": 5}, r"selinon_trace_redact: expected a list of key names, got 5"),
        ({"selinon_trace_redact": {"password": True}}, r"selinon_trace_redact: expected a list of key names"),
        ({"selinon_trace_redact": [""]}, r"selinon_trace_redact\[0\]: '' names no word"),
        ({"selinon_trace_redact": ["password", 3]}, r"selinon_trace_redact\[1\]: 3 is not a string"),
        ({"selinon_trace_redact": ["word: "]}, r"selinon_trace_redact\[0\]: 'word: ' names no word"),
        (
            {"selinon_trace_redact_values": r"\d+"},
            r"selinon_trace_redact_values: expected a list of patterns",
        ),
        (
            {"selinon_trace_redact_values": ["(unclosed"]},
            r"selinon_trace_redact_values\[0\]: .* is not a regular",
        ),
        (
            {"selinon_trace_redact_values": ["ok", ""]},
            r"selinon_trace_redact_values\[1\]: '' is not a non-empty",
        ),
        (
            {"selinon_trace_redact_values": ["x*"]},
            r"selinon_trace_redact_values\[0\]: 'x\*' matches the empty",
        ),
        (
            {"selinon_trace": [{"sentry": {"dsn": "http://k@127.0.0.1:9/1", "include_local_variables": 1}}]},
            r"selinon_trace\[0\]\.sentry: 'include_local_variables' must be true or false",
        ),
        ({"selinon_trace_max_value_length": "big"}, r"selinon_trace_max_value_length: expected an integer"),
        ({"selinon_trace_sinks": []}, r"selinon_trace_sinks: unknown setting"),
        (
            {"selinon_trace": [{"sentry": {"dsn": "http://k@127.0.0.1:9/1", "events": "TASK_FAILURE"}}]},
            r"selinon_trace\[0\]\.sentry: 'events' must be a list of event names",
        ),
        (
            {"selinon_trace": [{"sentry": {"dsn": "{NO_SUCH_SENTRY_DSN_VAR}"}}]},
            r"selinon_trace\[0\]\.sentry: 'dsn': environment variable 'NO_SUCH_SENTRY_DSN_VAR' is not set",
        ),
    ],
)
def test_bad_configuration_names_the_entry(conf: dict[str, Any], message: str) -> None:
    """Each bad setting fails install with an error naming it, and installs nothing."""
    app = _app(**conf)
    with pytest.raises(selinon_celery_trace.TraceConfigError, match=message):
        selinon_celery_trace.install(app)
    assert Trace.sinks() == () and not signals.before_task_publish.receivers


def test_function_sink_from_configuration() -> None:
    """A {'function': {'import', 'name'}} sink receives (event, details)."""
    app = _app(selinon_trace=[{"function": {"import": "tests.celery.sink_target", "name": "record"}}])
    from tests.celery import sink_target

    sink_target.received.clear()
    selinon_celery_trace.install(app)
    try:
        app.tasks["install.add"].apply((1, 2))
    finally:
        selinon_celery_trace.uninstall(app)
    assert [Trace.event2str(e) for e, _ in sink_target.received] == ["TASK_START", "TASK_END"]


def test_sentry_sink_without_sentry_sdk_fails_at_install() -> None:
    """A sentry sink with sentry-sdk missing fails at install, naming the entry and the extra."""
    code = (
        "import sys; sys.modules['sentry_sdk'] = None\n"
        "from celery import Celery\nimport selinon_celery_trace\n"
        "app = Celery('s', broker='memory://')\n"
        "app.conf.selinon_trace = [{'logging': True}, {'sentry': {'dsn': 'https://k@localhost/1'}}]\n"
        "try:\n    selinon_celery_trace.install(app)\n"
        "except ValueError as exc:\n    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "selinon_trace[1].sentry:" in out and "selinon-celery-trace[sentry]" in out


def test_a_soft_time_limit_inside_a_sink_reaches_the_task() -> None:
    """After install, SoftTimeLimitExceeded raised while a sink runs is the task's, not swallowed."""
    from celery.exceptions import SoftTimeLimitExceeded

    app = _app()
    selinon_celery_trace.install(app)

    def slow_sink(event: int, details: object) -> None:
        raise SoftTimeLimitExceeded()

    try:
        Trace.add_sink(slow_sink)
        with pytest.raises(SoftTimeLimitExceeded):
            Trace.log(Trace.STORAGE_STORE, storage_name="s3")
    finally:
        selinon_celery_trace.uninstall(app)


def test_json_only_sinks_write_the_same_arguments(tmp_path: Path) -> None:
    """With only JSON sinks, arguments are encoded once: the lines hold the same, redacted node_args."""
    path = tmp_path / "t.jsonl"
    app = _app(selinon_trace=[{"json": {"path": str(path)}}])

    @app.task(name="install.echo", shared=False)
    def echo(*args: Any, **kwargs: Any) -> None:
        if "options" in kwargs:  # the task mutates its argument: the trace keeps what the task was given
            kwargs["options"]["pages"].append(99)

    selinon_celery_trace.install(app)
    try:
        assert runtime.encoded_args, "only JSON sinks: arguments are handed over encoded"
        with capture_events():
            assert not runtime.encoded_args, "a function sink needs the arguments as data"
        assert runtime.encoded_args
        echo.apply((1, "ann"), {"options": {"lang": "en", "pages": [1, 2]}})
        echo.apply((2,), {"db_password": "hunter2", "nested": [{"api_key": "k"}]})
        echo.apply()
    finally:
        selinon_celery_trace.uninstall(app)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    # The end event extends the start's details in place here (no sink keeps them): lines stay apart.
    assert all(("runtime" in line["details"]) == (line["event"] == "TASK_END") for line in lines)
    starts = [line["details"]["node_args"] for line in lines if line["event"] == "TASK_START"]
    ends = [line["details"]["node_args"] for line in lines if line["event"] == "TASK_END"]
    assert (
        starts
        == ends
        == [
            {"args": [1, "ann"], "kwargs": {"options": {"lang": "en", "pages": [1, 2]}}},
            {"args": [2], "kwargs": {"db_password": "[redacted]", "nested": [{"api_key": "[redacted]"}]}},
            {"args": [], "kwargs": {}},
        ]
    )


def test_an_orjson_without_fragment_still_traces(tmp_path: Path) -> None:
    """orjson before 3.10 has no Fragment: the package imports, and JSON lines hold the arguments as data."""
    path = tmp_path / "old.jsonl"
    code = textwrap.dedent(
        f"""
        import orjson
        del orjson.Fragment  # what an orjson older than 3.10 looks like
        from celery import Celery
        import selinon_celery_trace
        from selinon_celery_trace.celery.runtime import runtime
        app = Celery("old", broker="memory://")
        app.conf.selinon_trace = [{{"json": {{"path": {str(path)!r}}}}}]

        @app.task(name="old.echo")
        def echo(*args, **kwargs):
            return None

        selinon_celery_trace.install(app)
        assert not runtime.encoded_args
        echo.apply((1, "ann"), {{"db_password": "hunter2"}})
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, timeout=60)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["event"] for line in lines] == ["TASK_START", "TASK_END"]
    assert all(
        line["details"]["node_args"] == {"args": [1, "ann"], "kwargs": {"db_password": "[redacted]"}}
        for line in lines
    )


def _careless(event: int, details: dict[str, Any]) -> None:
    """A function sink that changes what it is given, at every depth."""
    details["node_args"]["args"].clear()
    details.pop("task_id")


def test_a_function_sink_that_changes_details_changes_no_later_event(tmp_path: Path) -> None:
    """TASK_END carries the attempt's details intact although a function sink mangled TASK_START's."""
    path = tmp_path / "t.jsonl"
    app = _app(selinon_trace=[{"json": {"path": str(path)}}])
    Trace.trace_by_func(_careless)  # registered before the file sink: it runs first
    selinon_celery_trace.install(app)
    try:
        result = app.tasks["install.add"].apply((1, 2))
    finally:
        selinon_celery_trace.uninstall(app)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event"] for r in records] == ["TASK_START", "TASK_END"]
    for record in records:
        assert record["details"]["task_id"] == result.id
        assert record["details"]["node_args"] == {"args": [1, 2], "kwargs": {}}
