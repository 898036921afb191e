"""The package's shape: one installed name, folders listed, imports flowing one way.

- Every folder with Python modules is a package ``pyproject.toml`` installs.
- The import contract: annotate imports neither calibrate nor dashboards; calibrate
  does not import dashboards; no stage imports the top (``safecal.cli``,
  ``safecal.demo``); nothing imports the folders under their bare names.
- A wheel built from this repository installs into a fresh virtual environment
  beside PyPI's ``annotate`` and ``calibrate``, and all three import and work.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ("annotate", "calibrate", "dashboards")
#: a stage may import the stages before it, never after it, nor the top
ALLOWED = {
    "annotate": {"safecal.annotate"},
    "calibrate": {"safecal.annotate", "safecal.calibrate"},
    "dashboards": {"safecal.annotate", "safecal.calibrate", "safecal.dashboards"},
}


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", "") == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def test_every_package_folder_is_installed():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"safecal": "."}
    listed = set(config["packages"])
    folders = {
        "safecal." + ".".join(p.parent.relative_to(REPO).parts)
        for stage in STAGES
        for p in _modules(REPO / stage)
    }
    assert folders <= listed, f"not installed: {sorted(folders - listed)}"
    assert listed - {"safecal"} <= folders


def test_imports_flow_one_way():
    bad = []
    for stage in STAGES:
        for path in _modules(REPO / stage):
            for line, name in _imports(path):
                top = name.split(".")[0]
                if top in STAGES:
                    bad.append(f"{path.relative_to(REPO)}:{line}: bare import {name}")
                elif top == "safecal":
                    head = ".".join(name.split(".")[:2])
                    if head not in ALLOWED[stage]:
                        bad.append(f"{path.relative_to(REPO)}:{line}: {stage} imports {name}")
    for path in [
        REPO / "cli.py",
        REPO / "demo.py",
        REPO / "__main__.py",
        *_modules(REPO / "tests"),
    ]:
        bad += [
            f"{path.relative_to(REPO)}:{line}: bare import {name}"
            for line, name in _imports(path)
            if name.split(".")[0] in STAGES
        ]
    assert not bad, "\n".join(bad)


def test_every_imported_package_is_declared():
    """Each third-party module the package imports comes from a declared dependency."""
    import importlib.metadata as md
    import re

    declared = {
        re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    providers = md.packages_distributions()
    modules = [REPO / "cli.py", REPO / "demo.py", REPO / "__init__.py"]
    modules += [p for stage in STAGES for p in _modules(REPO / stage)]
    # annotate/labelstudio/ls_*.py run inside the Label Studio server only, where its
    # own folders (core, users, organizations, ...) are top-level modules and Django is
    # the one label-studio==1.23.2 pins: both come with the declared label-studio
    import label_studio

    in_server = {p.name for p in Path(label_studio.__file__).parent.iterdir() if p.is_dir()}
    missing = set()
    for path in modules:
        for _, name in _imports(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names or top in ("safecal", *STAGES):
                continue
            dists = {d.lower().replace("_", "-") for d in providers.get(top, [top])}
            if path.name.startswith("ls_") and (top in in_server or top == "django"):
                dists = {"label-studio"}
            if not dists & declared:
                missing.add(f"{top} ({', '.join(sorted(dists))}) in {path.relative_to(REPO)}")
    assert not missing, sorted(missing)


#: what a SQL statement looks like in a string constant (our SQL is written upper-case)
SQL = re.compile(
    r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP TABLE|DROP INDEX|PRAGMA|BEGIN|COMMIT|"
    r"ROLLBACK)\b|\bSELECT\b.+\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bDELETE FROM\b"
    r"|\bUPDATE \w+ SET\b",
    re.S,
)


def _sql_strings(path: Path) -> list[int]:
    """Lines of string constants that look like SQL (docstrings left out)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return sorted(
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SQL.search(node.value)
    )


def test_only_the_store_writes_sql():
    store = REPO / "annotate" / "store"
    modules = [REPO / "cli.py", REPO / "demo.py", REPO / "__init__.py"]
    modules += [p for stage in STAGES for p in _modules(REPO / stage) if store not in p.parents]
    found = {str(p.relative_to(REPO)): _sql_strings(p) for p in modules}
    assert not {k: v for k, v in found.items() if v}, "SQL outside annotate/store/"
    # the check itself: the store's own modules are full of it
    assert all(_sql_strings(p) for p in (store / "runs.py", store / "labels.py"))


def test_the_contract_check_catches_a_violation(tmp_path):
    """The checker itself: a calibrate module importing dashboards is reported."""
    module = tmp_path / "m.py"
    module.write_text("import safecal.dashboards.data\nfrom annotate import x\n")
    assert _imports(module) == [(1, "safecal.dashboards.data"), (2, "annotate")]


@pytest.mark.slow
def test_installs_beside_pypi_annotate_and_calibrate(tmp_path, example):
    """A fresh venv (dependencies from this interpreter's site-packages), PyPI's
    ``annotate`` and ``calibrate``, then a wheel of safecal: all three import, and the
    installed command ingests the example from another folder."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    py, pip = venv / "bin" / "python", [str(venv / "bin" / "python"), "-m", "pip", "-q"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([*pip, "install", "annotate", "calibrate"], check=True, env=env)
    # a copy of the tracked files, so the build leaves nothing in the repository
    source = tmp_path / "source"
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run([*pip, "install", "--no-deps", str(source)], check=True, env=env, cwd=tmp_path)
    site = subprocess.run(
        [
            str(py),
            "-c",
            "import annotate, calibrate, safecal, safecal.annotate, "
            "safecal.calibrate, safecal.dashboards, safecal.cli\n"
            "for m in (annotate, calibrate, safecal, safecal.calibrate): print(m.__file__)",
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert all(Path(f).is_relative_to(venv) for f in site), site
    assert "safecal" not in site[0] and "safecal" not in site[1]  # PyPI's own packages
    assert site[3].endswith("safecal/calibrate/__init__.py")
    done = subprocess.run(
        [
            str(venv / "bin" / "safecal"),
            "-w",
            str(tmp_path / "ws"),
            "ingest",
            "items",
            str(example.items),
            "--images",
            str(example.images),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "120" in done.stdout
