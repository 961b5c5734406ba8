"""Family kernels compiled on first use (``tape/_lazy.py``): the sweeps stop at a row whose
kernel is not compiled for its arena, Python compiles it, and the sweep resumes there."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tape
from tape import _record, _sweep
from tape.autograd.functional import jacobian
from tape.ops import elementwise as E
from tape.ops._spec import BINARY, R_A, R_B, R_NUM, R_OFF, R_OP, R_RG, REGISTRY, UNARY


def _program(dtype):
    """Rows of several families (elementwise, one-element too, reduce, shape, linalg) in ``dtype``."""
    x = tape.tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], dtype=dtype, requires_grad=True)
    w = tape.tensor([[1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]], dtype=dtype, requires_grad=True)
    y = tape.cat([x.sin() * x, (x @ w).tanh().expand(2, 2).t()], dim=1)
    return x, w, (y.exp().sum(0) * 2.0).sum().sin() * 1.5


def _gradients(dtype):
    x, w, loss = _program(dtype)
    gx, gw = tape.autograd.grad(loss, (x, w), create_graph=True)
    second = tape.autograd.grad((gx * gx).sum() + gw.sum(), (x, w))
    x, w, loss = _program(dtype)
    loss.backward()
    return [t.detach().numpy().copy() for t in (gx, gw, *second, x.grad, w.grad)]


@pytest.mark.parametrize("dtype", [tape.float32, tape.float64])
def test_sweeps_resume_after_compiling_a_kernel(dtype, monkeypatch):
    expected = _gradients(dtype)
    arena = 0 if dtype == tape.float64 else 1
    tables = (_sweep.ADJOINTS, _record.VALUES)
    for table in tables:
        monkeypatch.setattr(table, "addresses", np.zeros_like(table.addresses))
    got = _gradients(dtype)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    for table in tables:
        assert (table.addresses[:, arena] != 0).sum() >= 3, table.addresses     # the sweeps stopped that often
        assert not table.addresses[:, 1 - arena].any()      # the other arena's kernels: not needed
    # (the loss, one element: scalar_d for a float64 row, its group's kernel for a float32 one)
    assert bool(_sweep.ADJOINTS.addresses[_sweep.SCALAR:_sweep.SCALAR + 3, arena].any()) == (arena == 0)


def test_both_tables_number_the_families_alike():
    """``FAMILY`` gives a code's kernel in both tables: the sweep's adjoints and the recorder's values
    (one value kernel for each group of the core ops)."""
    groups = {**dict.fromkeys(E.UNARY_ROWS, "unary"), **dict.fromkeys(E.BINARY_ROWS, "binary")}

    def kind(kernel, suffix):
        return groups.get(kernel) or kernel.py_func.__name__.removeprefix("_").removesuffix(suffix)
    n = len(_record.VALUES.kernels)
    assert [kind(k, "_row") for k in _sweep.ADJOINTS.kernels[:n]] == [kind(k, "_value") for k in _record.VALUES.kernels]
    assert set(_sweep.FAMILY) == set(range(-1, n))
    # one-element rows: the scalar kernels, and the one-element reduction (a loss) of the sweep only
    one = _sweep.ADJOINTS.kernels.index(_sweep._one_reduce_row)
    assert set(_sweep.ONE_FAMILY) - set(_sweep.FAMILY) == {one, _sweep.SCALAR, _sweep.SCALAR + 1, _sweep.SCALAR + 2}
    # binary rows with a broadcast input, other than sums: a kernel of the sweep only
    broadcast = _sweep.ADJOINTS.kernels.index(E.broadcast_row)
    assert n <= broadcast < _sweep.SCALAR
    assert set(_sweep.BROADCAST_FAMILY) == {-1, broadcast}
    assert set(np.flatnonzero(_sweep.BROADCAST_FAMILY >= 0)) == set(E.PRODUCTS + E.OTHER_BINARY)


def test_each_core_elementwise_op_is_in_one_group():
    """Every core unary and binary op is in exactly one group, and ``FAMILY`` sends its rows to that
    group's row kernel."""
    core = [c for c in REGISTRY if c in UNARY and c < E.CATALOGUE_UNARY or c in BINARY and c < E.CATALOGUE_BINARY]
    grouped = [c for group in E.UNARY_GROUPS + E.BINARY_GROUPS for c in group]
    assert sorted(grouped) == sorted(core)
    for rows, groups in ((E.UNARY_ROWS, E.UNARY_GROUPS), (E.BINARY_ROWS, E.BINARY_GROUPS)):
        for row, group in zip(rows, groups, strict=True):
            assert {int(_sweep.FAMILY[c]) for c in group} == {_sweep.ADJOINTS.kernels.index(row)}


def test_seeded_sweeps_resume_after_compiling_a_kernel(monkeypatch):
    def f(x):
        return (x.sin() * x).cumsum(0)[1:]

    x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64)
    expected = jacobian(f, x).numpy()
    monkeypatch.setattr(_sweep.ADJOINTS, "addresses", np.zeros_like(_sweep.ADJOINTS.addresses))
    np.testing.assert_array_equal(jacobian(f, x).numpy(), expected)
    assert _sweep.ADJOINTS.addresses[:, 0].any()


@pytest.mark.parametrize("row", E.UNARY_ROWS + E.BINARY_ROWS + (E.broadcast_row,), ids=lambda k: k.__name__)
def test_a_group_kernel_refuses_the_codes_of_other_groups(row):
    """A group's row kernel returns False (the sweep's ST_UNKNOWN, an error) for a code it has no
    branch for, never a silent zero; True for its own."""
    unary = row in E.UNARY_ROWS
    groups = E.UNARY_GROUPS if unary else E.BINARY_GROUPS
    own = (set(E.PRODUCTS + E.OTHER_BINARY) if row is E.broadcast_row
           else set(groups[(E.UNARY_ROWS if unary else E.BINARY_ROWS).index(row)]))
    R = np.zeros((15, 3), np.int64)
    R[R_OFF] = 0, 4, 8
    R[R_NUM] = 4, 2 if row is E.broadcast_row else 4, 4
    R[R_A, 2], R[R_B, 2] = 0, 1
    R[R_RG, :2] = 1
    F = np.ones((2, 3))
    v, g = np.full(12, 0.5), np.zeros(12)
    stab = ix = np.zeros(1, np.int64)
    for code in (c for group in groups for c in group):
        R[R_OP, 2] = code
        assert row(R, F, stab, ix, v, g, v.astype(np.float32), g.astype(np.float32), 2) == (code in own), code
    if row in (E.product_row, E.other_binary_row):
        R[R_NUM, 1] = 2         # a broadcast input: ``broadcast_row``'s, never read past its two elements
        for code in own:
            R[R_OP, 2] = code
            assert not row(R, F, stab, ix, v, g, v.astype(np.float32), g.astype(np.float32), 2), code


def test_a_backward_compiles_only_the_kernels_its_rows_need():
    code = """
import tape
from tape import _sweep, _record
from tape.ops import join, linalg
_record._Tier.rows_left = 0     # (the compiled recording sweep, whether or not it is cached)
def compiled(table):
    return [(table.kernels[f].py_func.__name__, int(a)) for f, a in zip(*table.addresses.nonzero())]
x = tape.tensor([0.5, -1.0, 2.0], requires_grad=True)
(x.sin() * x).sum().backward()
print(compiled(_sweep.ADJOINTS))
print(_record.VALUES.addresses.any(), bool(linalg.linalg_adjoint.overloads or join.join_adjoint.overloads))
a = x * 2.0
y = a.sin().sum()      # (sin saves its input)
a.add_(1.0)             # a row whose input has a flag: the check of saved values, compiled now
try:
    y.backward()
except RuntimeError as e:
    print(compiled(_sweep.ADJOINTS)[-1], "modified by an inplace operation" in str(e))
tape.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
print(compiled(_record.VALUES))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    families, others, check, values = out.splitlines()[-4:]
    # the row kernels of sin's and mul's groups (not the other core ops' loops) and the one-element
    # reduce kernel, for the float32 arena (the loss's sum compiles no general reduction); no
    # recording sweep, no linalg or join
    assert families == "[('shared_loop_row', 1), ('product_row', 1), ('_one_reduce_row', 1)]"
    assert others == "False False"
    # (no row of it has a flag: the check of saved values, compiled when a row with one comes)
    assert check == "('check_saved', 0) True"
    # the recorded backward's rows (cos, add, mul): the groups' shared value kernels; its view and
    # expand of the loss's one-element gradient: no view kernel
    assert values == "[('_unary_value', 1), ('_binary_value', 1), ('_binary_value', 1)]"


def test_elementwise_kernels_leave_out_the_catalogue_and_the_special_functions(tmp_path):
    """The core ops' unary and binary kernels (sweep and recorder) compile none of the catalogue's
    element functions (erf, lgamma, the Bessel functions ...), and the catalogue's none of the special
    functions' (lgamma, the Bessel functions ...): those have kernels of their own."""
    code = """
import numpy as np
from tape import _record, _sweep
from tape.ops import _specfun as SF, elementwise as E
catalogue = (E._elem_d, E._elem_bd, E._elem_f, E._elem_bf)
special = (SF.special_d, SF.special_bd, SF.special_f, SF.special_bf)
R, stab, ix, v = np.zeros((15, 1), np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1)
F = np.zeros((2, 1))
def compile(table, kernels):
    for k in kernels:
        args = (R, F, stab, ix, v, v, v, v, 0) if table is _sweep.ADJOINTS else (R, F, stab, ix, v, 0)
        table.compile(table.kernels.index(k), 0, args)
def compiled(kernels):
    return [bool(k.overloads) for k in kernels]
compile(_sweep.ADJOINTS, E.UNARY_ROWS + E.BINARY_ROWS + (E.broadcast_row,))
compile(_record.VALUES, (_record._unary_value, _record._binary_value))
_sweep.ADJOINTS.compile(_sweep.SCALAR, 0, (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))     # one-element rows
print(compiled(catalogue + special))
compile(_sweep.ADJOINTS, (_sweep._catalogue_unary_row, _sweep._catalogue_binary_row))
compile(_record.VALUES, (_record._catalogue_unary_value, _record._catalogue_binary_value))
_sweep.ADJOINTS.compile(_sweep.SCALAR_FAMILY[E.ERF], 0, (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
print(compiled(catalogue + special))
compile(_sweep.ADJOINTS, (_sweep._special_unary_row, _sweep._special_binary_row))
compile(_record.VALUES, (_record._special_unary_value, _record._special_binary_value))
_sweep.ADJOINTS.compile(_sweep.SCALAR_FAMILY[SF.LGAMMA], 0, (0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0))
print(compiled(special))
"""
    # (an empty cache: a kernel loaded from one would not compile what it calls)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    core, catalogue, special = out.splitlines()[-3:]
    assert core == str([False] * 8)
    assert catalogue == str([True] * 4 + [False] * 4)
    assert special == str([True] * 4)


def test_a_first_recorded_backward_compiles_no_recording_sweep(tmp_path):
    """From an empty cache, a small graph's first ``create_graph=True`` backwards run the recorder's
    first tier (``_record.recorder``): the compiled recording sweep is not compiled (~15 s), nor the
    check of saved values (no row has a flag), and the derivatives and their graphs are as the
    compiled sweep records them."""
    code = """
import tape
from tape import _record, _stops
x = tape.tensor([0.5, -1.0, 2.0], dtype=tape.float64, requires_grad=True)
g, = tape.autograd.grad((x.sin() * x).sum(), x, create_graph=True)
h, = tape.autograd.grad(g.sum(), x, create_graph=True)
print(bool(_record.record_rows.overloads or _stops.check_saved.overloads), type(g.grad_fn).__name__,
      type(h.grad_fn).__name__)
print(g.tolist())
print(h.tolist())
"""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    compiled, g, h = out.splitlines()[-3:]
    assert compiled == "False AddBackward0 AddBackward0"
    x = np.array([0.5, -1.0, 2.0])
    g, h = json.loads(g), json.loads(h)
    np.testing.assert_allclose(g, x * np.cos(x) + np.sin(x), rtol=1e-14)
    np.testing.assert_allclose(h, 2 * np.cos(x) - x * np.sin(x), rtol=1e-14)
