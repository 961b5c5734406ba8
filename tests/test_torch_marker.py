"""The conftest guards of the ``torch`` marker: the CI's ``-m torch`` run cannot pass by skipping.

Each case runs pytest in a subprocess on a few small test files, with torch
hidden (``sys.modules["torch"] = None``) or with a stand-in ``torch`` package.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

CONFTEST = Path(__file__).with_name("conftest.py")
FUNCTION_LEVEL = """
    import pytest

    {mark}
    def test_it():
        pytest.importorskip("torch")
    """
MODULE_LEVEL = """
    import pytest

    {mark}
    torch = pytest.importorskip("torch")

    def test_it():
        pass
    """


def _pytest(tmp_path: Path, files: dict[str, str], torch: str | None) -> tuple[int, str]:
    """Run pytest on ``files``; ``torch`` is the stand-in package's code, None to hide torch."""
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    torch: compares with PyTorch\n")
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    hide = ""
    if torch is None:
        hide = "sys.modules['torch'] = None; "
    else:
        (tmp_path / "torch").mkdir()
        (tmp_path / "torch" / "__init__.py").write_text(torch)
    code = f"import sys; {hide}import pytest; sys.exit(pytest.main(['-q', '-rA', '-p', 'no:cacheprovider']))"
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_without_torch_marked_tests_skip_and_unmarked_ones_fail(tmp_path):
    code, out = _pytest(tmp_path, {
        "test_marked.py": FUNCTION_LEVEL.format(mark="@pytest.mark.torch"),
        "test_unmarked.py": FUNCTION_LEVEL.format(mark=""),
    }, torch=None)
    assert code == 1, out
    assert "1 failed, 1 skipped" in out, out
    assert "FAILED test_unmarked.py::test_it" in out and "is not marked @pytest.mark.torch" in out, out


def test_with_torch_installed_a_skip_for_lack_of_it_fails(tmp_path):
    broken = "raise ModuleNotFoundError(\"No module named 'sympy'\")\n"    # a dependency missing
    (tmp_path / "function").mkdir()
    code, out = _pytest(tmp_path / "function", {
        "test_function.py": FUNCTION_LEVEL.format(mark="@pytest.mark.torch"),
    }, torch=broken)
    assert code == 1 and "1 failed" in out, out
    assert "torch is installed but the test skipped for lack of it" in out, out
    (tmp_path / "module").mkdir()
    code, out = _pytest(tmp_path / "module", {
        "test_module.py": MODULE_LEVEL.format(mark="pytestmark = pytest.mark.torch"),
    }, torch=broken)
    assert code == 2 and "1 error" in out, out
    assert "torch is installed but the module skipped for lack of it" in out, out


def test_with_torch_installed_a_module_importing_it_must_be_marked(tmp_path):
    code, out = _pytest(tmp_path, {
        "test_plain.py": "def test_it():\n    pass\n",
        "test_module.py": MODULE_LEVEL.format(mark=""),
    }, torch="")
    assert code == 4, out
    assert "must be marked `pytestmark = pytest.mark.torch`: test_module" in out, out
