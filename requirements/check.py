"""Fail, naming them, when the virtualenv lacks a dependency pyproject.toml asks for.

The virtualenv is installed from the lock (requirements/*.txt) and the project itself with
--no-deps, so a dependency added to pyproject.toml without `make lock` would go missing silently;
this says so instead. Checks the project's dependencies and those of the extras named:

    .venv/bin/python requirements/check.py test lint
"""

import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def unmet(extras):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *(text for extra in extras for text in project["optional-dependencies"][extra])]
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            problems.append(f"{text}: not installed")
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            problems.append(f"{text}: {installed} installed")
    return problems


if __name__ == "__main__":
    problems = unmet(sys.argv[1:])
    if problems:
        print("pyproject.toml asks for what the lock files lack; run `make lock`:", file=sys.stderr)
        print("\n".join(f"  {problem}" for problem in problems), file=sys.stderr)
        sys.exit(1)
