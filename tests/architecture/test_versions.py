"""The Pythons the package claims are the ones tox and CI test."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _claimed() -> list[str]:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    return re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)


def test_tox_has_an_environment_for_every_claimed_python() -> None:
    """pyproject's classifiers, its requires-python floor and tox's py3x environments agree."""
    claimed = _claimed()
    assert claimed, "pyproject.toml lists no Python 3.x classifier"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    floor = re.search(r'requires-python = ">=(3\.\d+)"', pyproject)
    assert floor is not None and floor.group(1) == claimed[0]
    env_list = re.search(r"^env_list = (.*)$", (ROOT / "tox.ini").read_text(encoding="utf-8"), re.MULTILINE)
    assert env_list is not None
    envs = [env.strip() for env in env_list.group(1).split(",")]
    assert [env for env in envs if re.fullmatch(r"py3\d+", env)] == [
        "py" + version.replace(".", "") for version in claimed
    ]


def test_ci_runs_the_oldest_and_the_newest_claimed_python() -> None:
    """.ci/run runs the suite on the first and the last Python of the classifiers."""
    run = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    claimed = _claimed()
    assert f"OLDEST_PYTHON={claimed[0]}\n" in run
    assert f"NEWEST_PYTHON={claimed[-1]}\n" in run
