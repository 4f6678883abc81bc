"""Dependencies: floors past known CVEs, and a constraints file with the tested versions."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parent.parent
#: First versions without the advisories named in pyproject.toml.
FIXED = {"starlette": "1.3.1", "python-multipart": "0.0.27", "pillow": "12.1.1", "h11": "0.16"}


def kernel_requirements() -> dict[str, Requirement]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = [Requirement(r) for r in data["project"]["dependencies"] + data["project"]["optional-dependencies"]["dev"]]
    return {canonicalize_name(r.name): r for r in reqs}


def test_no_floor_admits_a_version_with_a_known_cve():
    reqs = kernel_requirements()
    for name, fixed in FIXED.items():
        floors = [Version(s.version) for s in reqs[name].specifier if s.operator in (">=", "==", "~=")]
        assert floors and min(floors) >= Version(fixed), name


def test_argon2_is_not_a_dependency_any_more():
    assert "argon2-cffi" not in kernel_requirements()


def test_constraints_pin_every_dependency_and_none_of_our_packages():
    lines = [line for line in (REPO / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    pins = {canonicalize_name(line.split("==")[0]): line.split("==")[1] for line in lines}
    assert all("==" in line for line in lines)
    assert not [name for name in pins if name.startswith("toolbox")]
    for name, req in kernel_requirements().items():
        assert name in pins, f"{name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} breaks {req}"


def test_install_script_uses_the_constraints():
    script = (REPO / "scripts" / "install.sh").read_text()
    assert "CONSTRAINTS-constraints.txt" in script and '"${constraint_args[@]}" -e ".${extras}"' in script
