"""The document pipeline and the flow that drives it; not one line of tracing code.

``document_flow`` (a :class:`~selinon_celery_trace.Dispatcher`) runs one document through::

    fetch -> parse -> index          -> publish  (publish sends notify)
                   -> thumbnail_flow /   (a subflow: thumbnail)

- ``fetch`` downloads the document; a source that times out is retried (``autoretry_for``), which the
  trace shows as TASK_RETRY, then a second TASK_START and TASK_END of the same task id.
- ``parse`` fails for good on a document without a text layer: TASK_FAILURE, then the dispatcher's
  NODE_FAILURE and FLOW_FAILURE.
- ``index`` and the ``thumbnail`` node run in parallel. That node is a subflow, ``thumbnail_flow`` (a
  dispatcher of its own, SUBFLOW_SCHEDULE), whose one task ``thumbnail`` runs on the ``media`` queue;
  the subflow's result (the thumbnail's path) is the node's result.
- ``publish`` sends ``notify`` itself: that task is not a node of the flow, yet its events carry the
  flow's ``flow_name`` and ``dispatcher_id`` (the context travels in the message).

The documents come from :data:`LIBRARY`, a stand-in for a document server, so the example runs offline.
Each step sleeps a little, as real work would, so the live view can be followed.
"""

from __future__ import annotations

import time
from typing import Any, Final

from celery import Task

from example_project.app import app
from selinon_celery_trace import Dispatcher

__all__ = [
    "LIBRARY",
    "SourceTimeout",
    "UnreadableDocument",
    "document_flow",
    "fetch",
    "index",
    "notify",
    "parse",
    "publish",
    "thumbnail",
    "thumbnail_flow",
]

STEP_SECONDS: Final = 0.3
"""How long each step pretends to work."""

PUBLIC_URL: Final = "https://docs.example.com/published"

LIBRARY: Final[dict[str, dict[str, Any]]] = {
    "q3-report": {
        "url": "https://intranet.example.com/finance/q3-report.pdf",
        "title": "Q3 financial report",
        "pages": 12,
        "text": "Revenue grew 12 percent in the third quarter while costs stayed flat across regions",
    },
    "release-notes": {
        "url": "https://slow-mirror.example.com/releases/2.4/notes.html",
        "title": "Release notes 2.4",
        "pages": 3,
        "text": "New exporter faster startup fixed crash when the cache directory is missing",
        "times_out_once": True,  # the mirror is slow: the first download times out
    },
    "scanned-contract": {
        "url": "https://intranet.example.com/legal/contract-2024-117.pdf",
        "title": "Supplier contract 2024-117 (scan)",
        "pages": 7,
        "text": None,  # an image-only scan: there is no text to parse
    },
}


class SourceTimeout(ConnectionError):
    """The document server did not answer in time (transient: fetch retries)."""


class UnreadableDocument(ValueError):
    """The document has no text to parse (permanent: retrying cannot help)."""


@app.task(
    name="example.fetch",
    bind=True,
    autoretry_for=(SourceTimeout,),
    retry_kwargs={"countdown": 0.5},
    max_retries=3,
)
def fetch(self: Task, doc_id: str) -> dict[str, Any]:
    """Download a document from its source."""
    time.sleep(STEP_SECONDS)
    doc = LIBRARY[doc_id]
    if doc.get("times_out_once") and self.request.retries == 0:
        raise SourceTimeout(f"GET {doc['url']}: read timed out after {STEP_SECONDS}s")
    return {"doc_id": doc_id, "url": doc["url"], "title": doc["title"], "text": doc["text"]}


@app.task(name="example.parse")
def parse(fetched: dict[str, Any]) -> dict[str, Any]:
    """Extract the words of a downloaded document."""
    time.sleep(STEP_SECONDS)
    if not fetched["text"]:
        raise UnreadableDocument(
            f"{fetched['doc_id']}: no text layer (an image-only scan); OCR is not enabled"
        )
    return {"doc_id": fetched["doc_id"], "title": fetched["title"], "words": fetched["text"].lower().split()}


@app.task(name="example.index")
def index(parsed: dict[str, Any]) -> dict[str, Any]:
    """Add the document's words to the search index."""
    time.sleep(STEP_SECONDS)
    return {"doc_id": parsed["doc_id"], "terms": len(set(parsed["words"]))}


@app.task(name="example.thumbnail")
def thumbnail(parsed: dict[str, Any]) -> str:
    """Render the first page as a thumbnail (routed to the ``media`` queue)."""
    time.sleep(STEP_SECONDS * 1.5)
    return f"thumbnails/{parsed['doc_id']}.png"


@app.task(name="example.publish")
def publish(doc_id: str, indexed: dict[str, Any], thumbnail_path: str) -> str:
    """Make the document public, then tell the subscribers (a task sent from inside this task)."""
    time.sleep(STEP_SECONDS)
    url = f"{PUBLIC_URL}/{doc_id}"
    # The webhook token shows up as "[redacted]" in the trace: its name matches the redaction list.
    notify.delay(doc_id, url, webhook_token="whk_live_3c9f1e7a")
    return url


@app.task(name="example.notify")
def notify(doc_id: str, url: str, webhook_token: str) -> None:
    """Call the subscribers' webhook."""
    time.sleep(STEP_SECONDS / 3)


@app.task(
    base=Dispatcher, bind=True, name="example.thumbnail_flow", flow_name="thumbnail_flow", check_interval=0.25
)
def thumbnail_flow(self: Dispatcher, parsed: dict[str, Any]) -> Any:
    """A subflow of one node: render the thumbnail; the subflow's result is the thumbnail's path."""
    flow = self.flow
    if flow.is_new:
        flow.schedule("thumbnail", thumbnail.s(parsed))
    for node in flow.finished:
        if node.succeeded:
            return node.result
    return None


@app.task(
    base=Dispatcher, bind=True, name="example.document_flow", flow_name="document_flow", check_interval=0.5
)
def document_flow(self: Dispatcher, doc_id: str) -> Any:
    """Drive one document through the pipeline; the flow's result is the published URL.

    The body runs at every wake-up and schedules what the nodes that just finished allow. A failed node
    is not handled here, so once nothing runs any more the flow fails (FLOW_FAILURE).
    """
    flow = self.flow
    if flow.is_new:
        flow.schedule("fetch", fetch.s(doc_id))
    for node in flow.finished:
        if not node.succeeded:
            continue
        if node.name == "fetch":
            flow.schedule("parse", parse.s(node.result))
        elif node.name == "parse":
            flow.schedule("index", index.s(node.result))
            flow.schedule("thumbnail", thumbnail_flow.s(node.result))  # a subflow
        elif node.name == "publish":
            return node.result
    done = {node.name: node for node in flow.nodes if node.succeeded}
    if "index" in done and "thumbnail" in done and not any(node.name == "publish" for node in flow.nodes):
        flow.schedule("publish", publish.s(doc_id, done["index"].result, done["thumbnail"].result))
    return None
