"""Sanitizing details: JSON-safe, redacted, bounded, whatever the input."""

from __future__ import annotations

import enum
import json
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from selinon_celery_trace.core.arguments import sanitize_arguments
from selinon_celery_trace.core.redact import (
    DEFAULT_REDACT_VALUES,
    REDACTED,
    Policy,
    exception_text,
    sanitize,
)
from selinon_celery_trace.core.values import luhn


class Hostile:
    """An object whose repr raises (and has no field to show)."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def test_secrets_are_masked_at_any_depth_and_case() -> None:
    """Keys containing a configured fragment are masked in nested dicts and lists, case-insensitively."""
    value = {"user": "ann", "Password": "p1", "nested": [{"db_password": "p2", "X-Api-Key": "k"}]}
    safe = sanitize(value, Policy())
    assert safe == {
        "user": "ann",
        "Password": REDACTED,
        "nested": [{"db_password": REDACTED, "X-Api-Key": REDACTED}],
    }


def test_custom_redaction_list_replaces_the_default() -> None:
    """A policy's own key list is used instead of the defaults."""
    safe = sanitize({"ssn": "1", "password": "2"}, Policy(redact=("ssn",)))
    assert safe == {"ssn": REDACTED, "password": "2"}


def test_long_strings_and_bytes_are_truncated_saying_so() -> None:
    """Strings and bytes past max_length are cut and say how much was dropped."""
    safe = sanitize({"s": "x" * 100, "b": b"y" * 100}, Policy(max_length=10))
    assert safe["s"] == "x" * 10 + "...[truncated 90 chars]"
    assert safe["b"] == "y" * 10 + "...[truncated 90 bytes]"


def test_containers_are_bounded() -> None:
    """Lists and dicts past max_items keep their head and say how many items were dropped."""
    safe = sanitize({"l": list(range(10)), "d": {str(i): i for i in range(10)}}, Policy(max_items=3))
    assert safe["l"] == [0, 1, 2, "[7 more items]"]
    assert safe["d"] == {"0": 0, "1": 1, "2": 2, "...": "[7 more items]"}


def test_odd_values_become_json() -> None:
    """Cycles, non-string keys, NaN, sets, Decimals, UUIDs, datetimes and hostile objects all encode."""
    cyclic: list[object] = [1]
    cyclic.append(cyclic)
    value = {
        "cycle": cyclic,
        (1, 2): "tuple key",
        3: "int key",
        "nan": math.nan,
        "inf": -math.inf,
        "set": {3, 1, 2},
        "dec": Decimal("1.50"),
        "uuid": UUID(int=1),
        "when": datetime(2026, 1, 2, tzinfo=timezone.utc),
        "hostile": Hostile(),
        "deep": [[[[[[[[[[[[[[[[[[[["bottom"]]]]]]]]]]]]]]]]]]]],
    }
    safe = sanitize(value, Policy())
    text = json.dumps(safe, allow_nan=False)
    assert safe["cycle"] == [1, "<cycle>"]
    assert safe["(1, 2)"] == "tuple key" and safe["3"] == "int key"
    assert safe["nan"] == "nan" and safe["inf"] == "-inf"
    assert safe["set"] == [1, 2, 3]
    assert safe["dec"] == "1.50" and safe["uuid"] == str(UUID(int=1))
    assert safe["when"] == "2026-01-02T00:00:00+00:00"
    assert safe["hostile"] == "<Hostile>"  # its __repr__ is never called
    assert "<max depth" in text


def test_shared_non_cyclic_references_are_not_cycles() -> None:
    """The same list referenced twice (not a cycle) is rendered twice."""
    shared = [1, 2]
    assert sanitize({"a": shared, "b": shared}, Policy()) == {"a": [1, 2], "b": [1, 2]}


_keys = st.one_of(
    st.sampled_from(["password", "X-Api-Key", "db_Token", "name", 'a":b', 'q"password', "secret_sauce"]),
    st.text(max_size=12),
)
# Secrets by value, and look-alikes that are not (a Luhn-invalid number, an e-mail, a timestamp).
_SECRETS = [
    "4111 1111 1111 1111",
    "x\t4111111111111111",
    "4111111111111112",
    "postgres://u:pw@h/d",
    "ann@example.com",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
    "Bearer abcdefgh12",
    "Authorization: Basic dXNlcg",
    "AKIAIOSFODNN7EXAMPLE",
    "\nAKIAIOSFODNN7EXAMPLE",
    "-----BEGIN PRIVATE KEY-----\nMII",
    "1700000000001",
    'a,"4111111111111111",b',
    "x 3.14159265358979323",
]
_json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=30)
    | st.text(alphabet="xy", min_size=2040, max_size=2060)  # around the default max_length
    | st.builds(
        lambda a, b, c: a + b + c, st.text(max_size=4), st.sampled_from(_SECRETS), st.text(max_size=4)
    )
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=5)
        | st.lists(children, max_size=5).map(tuple)
        | st.lists(st.integers(), min_size=99, max_size=102)  # around max_items
        | st.dictionaries(_keys, children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=500, deadline=None)
@given(_json_like)
def test_quick_path_agrees_with_the_full_walk(value: object) -> None:
    """The fast path masks, truncates and copies as the full walk does; it bounds size by bytes.

    A value small enough for the fast path (its JSON within max_length) keeps all its items, where the
    full walk would also cut containers at max_items; everything else is identical.
    """
    quick = sanitize_arguments([value], {}, Policy())
    wrapped = {"args": [value], "kwargs": {}}
    assert quick == sanitize(wrapped, Policy(max_items=10**9)) or quick == sanitize(wrapped, Policy())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(_json_like, max_size=3),
    st.dictionaries(_keys, _json_like, max_size=3),
    st.booleans(),
)
def test_task_arguments_are_sanitized_as_the_full_walk_does(
    args: list[object], kwargs: dict[str, object], decoded_json: bool
) -> None:
    """A task's args and kwargs come out as the full walk makes them (bounded by bytes when small).

    The same holds for arguments decoded from a JSON message, where only their dicts are visited.
    """
    quick = sanitize_arguments(args, kwargs, Policy(), decoded_json=decoded_json)
    value = {"args": args, "kwargs": kwargs}
    assert quick == sanitize(value, Policy(max_items=10**9)) or quick == sanitize(value, Policy())


@dataclass
class _Login:
    user: str
    password: str


def test_json_decoded_arguments_find_every_dict_to_mask() -> None:
    """Secrets in dicts deep in args or kwargs are masked, braces inside strings notwithstanding."""
    args = [1, [{"name": "a{b}c", "inner": [{"api_token": "t"}]}], "}{"]
    kwargs = {"options": {"lang": "{", "pages": [1, 2]}, "note": "{{{"}
    for decoded_json in (True, False):
        safe = sanitize_arguments(args, kwargs, Policy(), decoded_json=decoded_json)
        assert safe == {
            "args": [1, [{"name": "a{b}c", "inner": [{"api_token": REDACTED}]}], "}{"],
            "kwargs": {"options": {"lang": "{", "pages": [1, 2]}, "note": "{{{"},
        }
    # An object a custom decoder made is not encoded field by field: it takes the full walk.
    login = _Login("ann", "hunter2")
    safe = sanitize_arguments([login], {}, Policy(), decoded_json=True)
    assert safe == sanitize({"args": [login], "kwargs": {}}, Policy())


# -- secrets by value -------------------------------------------------------------------------------

CARD = "4111 1111 1111 1111"  # a test card number: passes the Luhn check
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretbody\n-----END RSA PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgres://ada:hunter2@db:5432/app", "postgres://ada:[redacted]@db:5432/app"),
        ("redis://:p@ss:w0rd@cache:6379/0", "redis://:[redacted]@cache:6379/0"),
        ("see https://host:8443/x@y", "see https://host:8443/x@y"),  # a port, not a password
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer [redacted]"),
        ('{"authorization": "Basic dXNlcjpwYXNz"}', '{"authorization": "Basic [redacted]"}'),
        ("token is bearer 9f8e7d6c5b4a3210", "token is bearer [redacted]"),
        ("a bearer bond", "a bearer bond"),  # no token after it
        (f"jwt={JWT};", "jwt=[redacted];"),
        (f"key:\n{PEM}\nend", "key:\n[redacted]\nend"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", "[redacted]"),  # cut before its END line
        ("id AKIAIOSFODNN7EXAMPLE here", "id [redacted] here"),
        (f"card {CARD} exp 12/30", "card [redacted] exp 12/30"),
        ("4111-1111-1111-1111", "[redacted]"),
        ("4111111111111111", "[redacted]"),
        ("order 12 4111 1111 1111 1111", "order 12 [redacted]"),
        ("4111111111111112", "4111111111111112"),  # fails the Luhn check: not a card
        ("1700000000001", "1700000000001"),  # a millisecond timestamp failing the Luhn check
        ("sizes 10 20 30 40 50 60 70 80", "sizes 10 20 30 40 50 60 70 80"),
        ("plain text, nothing secret", "plain text, nothing secret"),
    ],
)
def test_secrets_are_masked_by_their_form(text: str, masked: str) -> None:
    """URL credentials, Authorization/bearer tokens, JWTs, PEM keys, AWS keys and Luhn-valid cards."""
    assert sanitize(text, Policy()) == masked
    assert sanitize({"note": [text]}, Policy()) == {"note": [masked]}


def test_luhn() -> None:
    """The Luhn check accepts card numbers and rejects their one-digit typos."""
    assert luhn("4111111111111111") and luhn("378282246310005") and luhn("6011111111111117")
    assert not luhn("4111111111111112") and not luhn("378282246310006")


def test_value_patterns_are_configurable() -> None:
    """Patterns replace the defaults; spread the defaults to add to them; a ``secret`` group keeps context."""
    extra = r"ACME-(?P<secret>\d{6})"
    text = f"ACME-123456 postgres://u:pw@h {CARD}"
    added = Policy(redact_values=(*DEFAULT_REDACT_VALUES, extra))
    assert sanitize(text, added) == "ACME-[redacted] postgres://u:[redacted]@h [redacted]"
    only = Policy(redact_values=(extra,))
    assert sanitize(text, only) == f"ACME-[redacted] postgres://u:pw@h {CARD}"
    assert sanitize(text, Policy(redact_values=())) == text
    # An anchored pattern of one's own still applies to every string of JSON-decoded arguments.
    anchored = Policy(redact_values=(r"^secret-\w+$",))
    safe = sanitize_arguments(["secret-abc", "x"], {"k": "secret-def"}, anchored, decoded_json=True)
    assert safe == {"args": [REDACTED, "x"], "kwargs": {"k": REDACTED}}


@pytest.mark.parametrize("decoded_json", [True, False])
def test_arguments_fast_path_masks_by_value(decoded_json: bool) -> None:
    """Plain JSON arguments holding a secret by value are masked; others stay on the fast path unchanged."""
    args = [f"postgres://ada:{'pw' * 3}@db/app", {"card": CARD, "n": [1, 2]}, JWT]
    kwargs = {"header": "Bearer s3cr3t-t0ken", "key": "AKIAIOSFODNN7EXAMPLE", "note": 'say "hi"\n'}
    safe = sanitize_arguments(args, kwargs, Policy(), decoded_json=decoded_json)
    assert safe == {
        "args": ["postgres://ada:[redacted]@db/app", {"card": REDACTED, "n": [1, 2]}, REDACTED],
        "kwargs": {"header": "Bearer [redacted]", "key": REDACTED, "note": 'say "hi"\n'},
    }
    plain = sanitize_arguments([17, "ann@example.com"], {"when": 1700000000001}, Policy(), decoded_json=True)
    assert plain == {"args": [17, "ann@example.com"], "kwargs": {"when": 1700000000001}}


# -- key names --------------------------------------------------------------------------------------


def test_key_spellings_are_normalised() -> None:
    """Dots, spaces, hyphens, case and camelCase do not hide a key; auth and pin match whole words only."""
    masked = [
        "api.key",
        "Api Key",
        "apiKey",
        "API-KEY",
        "X-Api-Key",
        "db.password",
        "DB Password",
        "dbPassword",
        "passphrase",
        "jwt",
        "id_jwt",
        "bearer",
        "auth",
        "x-auth-token",
        "authToken",
        "basic_auth",
        "pin",
        "PIN",
        "PIN_code",
        "userPin",
        "card pin",
        "sessionId",
        "client-secret",
    ]
    kept = ["author", "authors", "oauth_provider", "pinned", "spin", "pinch", "opinion", "user", "keyboard"]
    safe = sanitize(dict.fromkeys(masked + kept, "v"), Policy())
    assert {key for key, value in safe.items() if value == REDACTED} == set(masked)


def test_word_entries_of_ones_own() -> None:
    """``word:`` entries of a custom list match whole words; plain entries match inside words."""
    policy = Policy(redact=("word:ssn", "iban"))
    safe = sanitize({"ssn": 1, "customer-SSN": 2, "ssnote": 3, "IBANs": 4, "password": 5}, policy)
    assert safe == {"ssn": REDACTED, "customer-SSN": REDACTED, "ssnote": 3, "IBANs": REDACTED, "password": 5}


def test_key_value_pairs_in_free_text_are_masked() -> None:
    """Messages and tracebacks mask ``key=value`` / ``key: value`` by the key list, and secrets by value."""
    policy = Policy()
    text = "ValueError: login failed password=hunter2 {'api_key': 'k 1', \"Token\": \"t\"} user=ann"
    assert policy.message(text) == (
        "ValueError: login failed password=[redacted] {'api_key': '[redacted]', "
        '"Token": "[redacted]"} user=ann'
    )
    assert policy.message(f"dsn: postgres://a:b@h/1, card {CARD}") == "dsn: [redacted], card [redacted]"


# -- objects, and user code never run --------------------------------------------------------------


class _Tripwire:
    """Records every call of code the tracer must never run on the hot path."""

    calls: ClassVar[list[str]] = []

    def __repr__(self) -> str:
        _Tripwire.calls.append("repr")
        time.sleep(5)
        return "x" * 200_000_000

    def __str__(self) -> str:
        _Tripwire.calls.append("str")
        return "s"

    def __lt__(self, other: object) -> bool:
        _Tripwire.calls.append("lt")
        return True

    def __hash__(self) -> int:
        return 1


class _Account(_Tripwire):
    def __init__(self) -> None:
        self.owner = "ann"
        self.db_password = "hunter2"
        self.url = "postgres://ann:pw@db/x"
        self._cache = "internal"
        self.me = self

    @property
    def expensive(self) -> str:
        _Tripwire.calls.append("property")
        return "no"


class _Slotted(_Tripwire):
    __slots__ = ("api_token", "name")

    def __init__(self) -> None:
        self.name = "box"
        self.api_token = "t0k"


@dataclass
class _Card(_Tripwire):
    holder: str
    number: str
    pin: str = field(repr=False, default="1234")  # hidden from its own repr: left out


class _Blob(_Tripwire):
    __slots__ = ()


class _Oops(ValueError):
    def __str__(self) -> str:
        _Tripwire.calls.append("exc str")
        return "never"

    def __repr__(self) -> str:
        _Tripwire.calls.append("exc repr")
        return "never"


def test_objects_are_rendered_by_their_fields_never_by_their_code() -> None:
    """Objects show their fields, masked by name and value; no __repr__, __str__, property or __lt__ runs."""
    _Tripwire.calls.clear()
    value = {
        "account": _Account(),
        "slotted": _Slotted(),
        "card": _Card("ann", CARD),
        "blob": _Blob(),
        "error": _Oops("bad", "postgres://u:pw@h"),
        "set": {_Blob(), _Blob()},
        _Blob(): "object key",
    }
    safe = sanitize(value, Policy())
    json.dumps(safe, allow_nan=False)
    assert safe["account"] == {
        "__type__": "_Account",
        "owner": "ann",
        "db_password": REDACTED,
        "url": "postgres://ann:[redacted]@db/x",
        "me": "<cycle>",
    }
    assert safe["slotted"] == {"__type__": "_Slotted", "api_token": REDACTED, "name": "box"}
    assert safe["card"] == {"__type__": "_Card", "holder": "ann", "number": REDACTED}
    assert safe["blob"] == "<_Blob>" and safe["<_Blob>"] == "object key"
    assert safe["error"] == {"__type__": "_Oops", "args": ["bad", "postgres://u:[redacted]@h"]}
    assert safe["set"] == ["<_Blob>", "<_Blob>"]
    assert exception_text(_Oops("bad token=t", 3), Policy()) == "_Oops('bad token=[redacted]', 3)"
    assert _Tripwire.calls == []


def test_attrs_and_pydantic_models_are_rendered_by_their_fields() -> None:
    """attrs classes and pydantic models show their declared fields (repr=False ones left out), masked."""
    import attr
    import pydantic

    @attr.s(auto_attribs=True)
    class Login:
        user: str
        password: str
        otp: str = attr.ib(repr=False, default="123456")

    class Config(pydantic.BaseModel):
        name: str
        dsn: str
        note: str = pydantic.Field(default="hidden", repr=False)

    safe = sanitize([Login("ann", "pw"), Config(name="db", dsn="postgres://u:p@h/d")], Policy())
    assert safe == [
        {"__type__": "Login", "user": "ann", "password": REDACTED},
        {"__type__": "Config", "name": "db", "dsn": REDACTED},
    ]


def test_simple_values_keep_their_text() -> None:
    """Enums, classes, functions, complex numbers and timedeltas are written without user code."""

    class Color(enum.Enum):
        RED = 1

    safe = sanitize([Color.RED, Color, sanitize, 1 + 2j, timedelta(seconds=5)], Policy())
    assert safe[0] == "Color.RED" and safe[3] == "(1+2j)" and safe[4] == "datetime.timedelta(seconds=5)"
    assert safe[1].startswith("<class ") and safe[1].endswith("Color>")
    assert safe[2] == "<function selinon_celery_trace.core.redact.sanitize>"


def test_a_secret_after_a_masked_word_in_a_message_is_masked_but_prose_is_kept() -> None:
    """``bad password hunter2`` loses its secret; words after a key word (``password incorrect``) stay."""
    policy = Policy()
    masked = {
        "ValueError: bad password hunter2": "ValueError: bad password [redacted]",
        "the password is S3cr3t!": "the password is [redacted]",
        "invalid token abc.def.ghi": "invalid token [redacted]",
        "passphrase correcthorsebatterystaple": "passphrase [redacted]",
        "wrong pin 1234 entered": "wrong pin [redacted] entered",
    }
    kept = (
        "password incorrect for ann",
        "Password Expired",
        "token 5 minutes old",
        "pinned 1234 items",
        "author Jane42 wrote",
        'File "/app/token_store.py", line 42, in fetch',
        'raise ValueError(f"bad password {pw}")',
    )
    for text, expected in masked.items():
        assert policy.message(text) == expected
    for text in kept:
        assert policy.message(text) == text
