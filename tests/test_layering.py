"""The layers of ARCHITECTURE.md: core and ml never import Qt; core never imports torch."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "segstudio"
QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "pytestqt")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["core", "ml"])
def test_no_qt_below_gui(layer):
    offenders = [str(p) for p in _modules(layer) if _imports(p) & set(QT)]
    assert not offenders, f"Qt imported in segstudio.{layer}: {offenders}"


def test_core_has_no_torch_and_no_upper_layers():
    for path in _modules("core"):
        text = path.read_text(encoding="utf-8")
        assert "torch" not in _imports(path), path
        assert "segstudio.ml" not in text and "segstudio.gui" not in text, path


def test_ml_does_not_import_gui():
    for path in _modules("ml"):
        assert "segstudio.gui" not in path.read_text(encoding="utf-8"), path


def test_importing_core_and_ml_loads_no_qt():
    """Import every core and ml module in a fresh interpreter and check sys.modules."""
    modules = []
    for layer in ("core", "ml"):
        for path in _modules(layer):
            rel = path.relative_to(PACKAGE.parent).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules.append(".".join(parts))
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {QT!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
