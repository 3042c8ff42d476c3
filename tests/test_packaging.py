"""The wheel ships every subpackage: pyproject's explicit package list must name each folder of trtadvisor/.

A folder left out installs as a missing module only outside the source checkout, where the tests
never look, so the list is checked against the tree here.
"""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from conftest import REPO


def test_every_subpackage_is_in_the_wheel() -> None:
    with (REPO / "pyproject.toml").open("rb") as fh:
        setuptools = tomllib.load(fh)["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "trtadvisor").rglob("__init__.py")}
    assert on_disk - listed == set(), "subpackages missing from [tool.setuptools] packages"
    assert listed - on_disk == {"trtadvisor.rules"}  # rules/ ships through package-dir, nothing else is extra
    assert setuptools["package-dir"]["trtadvisor.rules"] == "rules"
