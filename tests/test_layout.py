"""The code's layout: each op's front end is defined once, in its family file in ``ops/``, and
installed from the registry of public names; the type stubs and the README's coverage table
agree with that registry; modules import each other at the top, without cycles."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import tape
from tape import _stubs
from tape._tensor import Tensor
from tape.ops import PUBLIC, REGISTRY

ROOT = Path(__file__).resolve().parent.parent
INSTALLED_BY_ENGINE = {"grad_fn", "backward", "__new__", "register_hook", "register_post_accumulate_grad_hook",
                       "_use_count", "volatile", "_grad_fn", "_backward_hooks", "resize"}      # set by tape/_install.py, not by a front end


def _public_names() -> set:
    """Names a user calls: methods, properties and functions of the registry (not operators)."""
    out = set()
    for entry in PUBLIC:
        out.update(n for n in entry.methods + entry.properties + entry.functions if not n.startswith("_"))
    return out


# --- the registry and the handle -------------------------------------------------------
def _handle_members() -> set:
    """Names the ``Tensor`` class body in tape/_tensor.py defines."""
    tree = ast.parse((ROOT / "tape" / "_tensor.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    names = set()
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_tensor_handle_defines_no_op():
    handle = _handle_members()
    front_ends = {n for e in PUBLIC if e.fn.__module__ != "tape._tensor"      # (detach: the handle's own)
                  for n in e.methods + e.properties + e.functions}
    ops = {op.name for op in REGISTRY.values()} | front_ends
    assert not handle & ops, f"ops defined on the handle (tape/_tensor.py): {sorted(handle & ops)}"


def test_every_tensor_member_is_the_handle_s_or_installed():
    installed = {n for e in PUBLIC for n in e.methods + e.properties} | INSTALLED_BY_ENGINE
    members = {n for n in vars(Tensor) if not n.startswith("__") or n in installed or n in _handle_members()}
    unexplained = members - _handle_members() - installed
    assert not unexplained, f"Tensor members from neither the handle nor the registry: {sorted(unexplained)}"
    for entry in PUBLIC:
        for name in entry.methods:
            assert vars(Tensor)[name] is entry.fn


def test_function_forms_are_exported_from_the_registry():
    for entry in PUBLIC:
        for name in entry.functions:
            assert name in tape.__all__
            fn = getattr(tape, name)
            # (a plain function form is the registered function, or it wrapped for ``out=``)
            assert (fn is entry.fn or fn.__wrapped__ is entry.fn) if entry.plain else fn.__name__ == name
    assert len(tape.__all__) == len(set(tape.__all__))


def test_function_form_rejects_a_non_tensor_input():
    with pytest.raises(TypeError, match=r"exp\(\): argument 'input' \(position 1\) must be Tensor, not list"):
        tape.exp([1.0])
    with pytest.raises(TypeError, match=r"negative\(\): argument 'input' \(position 1\) must be Tensor, not int"):
        tape.negative(1)
    assert tape.sub(5, tape.tensor([1.0, 2.0])).tolist() == [4.0, 3.0]       # a number first: reflected


def test_installed_methods_are_named_as_methods():
    x = tape.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"Tensor\.sum\(\) takes from 1 to 3 positional arguments"):
        x.sum(0, False, 1, 2)
    with pytest.raises(TypeError, match=r"Tensor\.abs\(\) takes 1 positional argument"):
        x.abs(1)
    with pytest.raises(TypeError, match=r"^abs\(\) takes 1 positional argument"):
        tape.abs(x, 1)          # (the function form: PyTorch's message names ``abs()`` too)


# --- stubs ------------------------------------------------------------------------------
def test_committed_stubs_are_what_the_generator_writes():
    for rel, text in _stubs.files().items():
        committed = (ROOT / "tape" / rel).read_text()
        assert committed == text, f"tape/{rel} is stale: run python -m tape._stubs"


def test_stub_annotations_name_only_known_types():
    with pytest.raises(ValueError, match="not known to tape._stubs"):
        _stubs.annotation("Optional[Frobnicator]")
    assert _stubs.annotation("Optional[int]") == "Optional[builtins.int]"
    assert _stubs.annotation("D.dtype") == "_DType"


USER_CODE = '''
import tape as torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
w = torch.randn(2, 3)
loss = (x * 2 + 1).exp().sum() + (x @ w).tanh().mean(dim=0).sum()
loss.backward()
t: torch.Tensor = torch.clamp(x, min=0.0).T + torch.add(2, x).float() + x[0]
parts = torch.cat([x, x]).reshape(2, 2).unbind(0)
size = torch.broadcast_shapes((2, 1), (3,))
x.frobnicate()
torch.frobnicate(x)
x.sum(dim="a")
n: int = x.float()
'''


def test_stubs_let_a_type_checker_see_the_installed_members(tmp_path, monkeypatch):
    api = pytest.importorskip("mypy.api")      # (a test dependency: installed by ``pip install -e '.[test]'``)
    (tmp_path / "user.py").write_text(USER_CODE)
    monkeypatch.setenv("MYPYPATH", str(ROOT))
    out, err, status = api.run([str(tmp_path / "user.py"), "--follow-imports=silent", "--cache-dir",
                                str(tmp_path / "cache"), "--no-error-summary", "--hide-error-context"])
    found = [(USER_CODE.splitlines()[int(n) - 1], code)
             for n, code in re.findall(r"user\.py:(\d+): error: .*\[([\w-]+)\]$", out, re.M)]
    assert found == [("x.frobnicate()", "attr-defined"), ("torch.frobnicate(x)", "attr-defined"),
                     ('x.sum(dim="a")', "arg-type"), ("n: int = x.float()", "assignment")], out + err


# --- README -----------------------------------------------------------------------------
def _coverage_table() -> dict:
    text = (ROOT / "README.md").read_text()
    section = text.split("## What is covered", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("area", "---"):
            rows[cells[0]] = cells[1]
    return rows


def _names(cell: str) -> set:
    """The names in a cell's code spans (``size()`` is ``size``; operators and node names are not names)."""
    out = set()
    for span in re.findall(r"`([^`]+)`", cell):
        m = re.match(r"(?:tape\.|Tensor\.)?([A-Za-z_]\w*)", span)
        if m and not re.fullmatch(r"\w+Backward\d", m.group(1)):
            out.add(m.group(1))
    return out


def test_readme_coverage_table_lists_every_public_name():
    listed = set().union(*map(_names, _coverage_table().values()))
    missing = _public_names() - listed
    assert not missing, f"registered but not in README's 'What is covered': {sorted(missing)}"


def test_readme_differentiable_ops_are_registered():
    row = _names(_coverage_table()["differentiable ops"])
    assert row and not row - _public_names(), f"not registered: {sorted(row - _public_names())}"


# --- imports ----------------------------------------------------------------------------
def _sources() -> dict:
    """Module name -> path for tape's modules (``ops/`` is installed as ``tape.ops``)."""
    out = {}
    for path in sorted((ROOT / "tape").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    for path in sorted((ROOT / "ops").glob("*.py")):
        out["tape.ops" + ("" if path.stem == "__init__" else "." + path.stem)] = path
    return out


def test_no_imports_inside_functions():
    found = []
    for name, path in _sources().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found += [f"{name}.{node.name} (line {n.lineno})" for n in ast.walk(node)
                          if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not found, f"imports inside functions: {found}"


def test_op_files_use_only_the_recording_api():
    modules = _sources()
    for name, path in modules.items():
        if name.startswith("tape.ops."):
            outside = {m for m in _imports(name, path, modules) if not m.startswith("tape.ops.")} - {"tape._emit"}
            assert not outside, f"{name} imports {sorted(outside)}: op definitions use tape._emit only"


def _imports(name: str, path: Path, modules: dict) -> set:
    """The tape modules ``name`` imports at module level (a package's own parents aside)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            target = (base + "." + node.module if node.module else base) if node.level else node.module
            subs = {target + "." + a.name for a in node.names} & set(modules)
            out |= subs or ({target} & set(modules))
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names} & set(modules)
    return out


def test_module_imports_form_no_cycle():
    modules = _sources()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    state: dict = {}

    def visit(name: str, stack: list) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(dep):] + [dep]))
            if dep not in state:
                visit(dep, stack + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_pyproject_lists_every_package():
    # (setuptools installs only the packages listed: a new subpackage missing there works in an
    # editable install and is absent from a wheel)
    text = (ROOT / "pyproject.toml").read_text()
    listed = set(re.findall(r'"(tape(?:\.[\w.]+)?)"', text[text.index("packages = ["):text.index("]", text.index("packages = ["))]))
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tape").rglob("__init__.py")}
    found |= {"tape.ops"}       # (installed from ops/, [tool.setuptools.package-dir])
    assert listed == found
