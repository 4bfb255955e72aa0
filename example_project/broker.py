"""The embedded broker: kombu's filesystem transport, with messages written atomically.

kombu's own ``_put`` creates the message file under its final name and then writes it, so a consumer
polling the folder can pick up the file in between, read zero bytes and die on a JSON error (seen here
about once in ten runs; kombu issue #1551 reports the symptom). This transport writes each message
under a name the consumer skips and renames it when complete: a rename within one folder is atomic, so
a message is either absent or whole. Selected in :mod:`example_project.celeryconfig` with
``broker_transport``; the broker URL stays ``filesystem://``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

__all__ = ["Channel", "Transport"]


class Channel(filesystem.Channel):  # type: ignore[misc]
    """A filesystem channel whose messages appear in the folder only once completely written."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # The same name as kombu's (consumers sort by it), plus ".part" while writing: the consumer only
        # takes names ending in ".<queue>.msg".
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):  # type: ignore[misc]
    """kombu's filesystem transport with :class:`Channel`."""

    Channel = Channel
