"""The layers of the apps ([tool.importlinter] in pyproject.toml), checked by lint-imports.

Each test runs lint-imports on a copy of the apps' .py files and pyproject.toml in a temporary
folder, so that one can break a layer without touching the tree: the tree passes, and an app
importing one above it fails, naming the contract.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONTRACT = "Apps stand in layers, lower ones never import higher ones"


def root_packages():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return config["root_packages"]


def copy_of_the_apps(destination):
    """The .py files of every root package, and pyproject.toml. A root package that does not exist
    (yet) is an empty one here: these tests are about the layers, not about which apps exist."""
    for package in root_packages():
        source = ROOT / package
        if source.is_dir():
            shutil.copytree(
                source,
                destination / package,
                ignore=lambda folder, names: [
                    name for name in names if not name.endswith(".py") and not (Path(folder) / name).is_dir()
                ],
            )
        else:
            (destination / package).mkdir()
            (destination / package / "__init__.py").touch()
    shutil.copy(ROOT / "pyproject.toml", destination / "pyproject.toml")
    return destination


def lint_imports(folder):
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=folder,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(folder), "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module", autouse=True)
def _lint_imports_installed():
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: install the lint extra (make venv installs it)")


def test_the_tree_keeps_its_layers(tmp_path):
    result = lint_imports(copy_of_the_apps(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_lower_app_importing_a_higher_one_breaks_the_contract(tmp_path):
    folder = copy_of_the_apps(tmp_path)
    with open(folder / "scrolls" / "models.py", "a") as models:
        models.write("\nimport certificates.models  # noqa\n")
    result = lint_imports(folder)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Broken contracts" in result.stdout, result.stdout + result.stderr
    assert f"{CONTRACT} BROKEN" in result.stdout
    assert "scrolls is not allowed to import certificates" in result.stdout
    assert "scrolls.models -> certificates.models" in result.stdout
