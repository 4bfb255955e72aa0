"""CI only: check tests/data/reference_events.tsv against the reference text, when it is beside the repo.

The repository's tests read only its own copy of the reference's facts; this step tells when that
copy and ../shared/reference/selinon_trace_reference.txt disagree. Usage: python .ci/check_reference.py REF
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EMITTER = re.compile(r" (Dispatcher/Task|Dispatcher|Task|storage adapter destructor)(?= |$)")


def reference_rows(text: str) -> tuple[str, list[str]]:
    """WARN_EVENTS and the table rows (number, name, emitter, keys, description) the reference gives."""
    numbers = {name: int(n) for name, n in re.findall(r"^([A-Z_]+) = (\d+)$", text, re.MULTILINE)}
    warn = re.search(r"^WARN_EVENTS = \((.*)\)$", text, re.MULTILINE)
    assert warn is not None, "no WARN_EVENTS line in the reference"
    described: dict[str, tuple[str, str, str]] = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Z][A-Z_]+) ([A-Z].*)$", line)
        if match and match.group(1) in numbers and " = " not in line:
            rest = match.group(2)
            last = list(EMITTER.finditer(rest))[-1]
            described[match.group(1)] = (
                rest[: last.start()].strip(),
                last.group(1),
                rest[last.end() :].strip(),
            )
    rows = []
    for name, number in sorted(numbers.items(), key=lambda item: item[1]):
        description, emitter, keys = described.get(name, ("", "", ""))
        rows.append(f"{number}\t{name}\t{emitter}\t{keys}\t{description}")
    return " ".join(n.strip() for n in warn.group(1).split(",")), rows


def main(reference: str) -> int:
    warn, rows = reference_rows(Path(reference).read_text(encoding="utf-8"))
    copy = Path(__file__).resolve().parents[1] / "tests" / "data" / "reference_events.tsv"
    lines = [line for line in copy.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    expected = [f"WARN_EVENTS\t{warn}", "number\tname\temitter\tkeys\tdescription", *rows]
    if lines != expected:
        for got, want in zip(lines, expected, strict=False):
            if got != want:
                print("tests/data/reference_events.tsv differs from the reference:")
                print(f"  copy: {got}\n  ref:  {want}")
                break
        else:
            print(f"tests/data/reference_events.tsv has {len(lines)} rows, the reference {len(expected)}")
        return 1
    print(f"tests/data/reference_events.tsv matches {reference} ({len(rows)} events)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
