"""Saved traces: ``Trace.save(path)`` and ``tape.load_trace(path)``.

A saved trace is a ``.npz`` file (numpy arrays in an uncompressed zip) of its most recent
variant: the tape's integer and float columns, its value arenas, shape and index tables, the
rows of its arguments and results, its guard rows and the user's lines they came from, with a
format version, a hash of the op catalogue it was recorded with (codes, names, arities) and a
SHA-256 checksum of everything else.  Nothing is pickled and loading runs no code from the file.

Loading checks, in Python, before any compiled code runs: the zip (each member stored, its
CRC), each array's header (a plain numeric or string dtype, its shape, its size), the format
version, the catalogue hash (a file from another catalogue refuses to load), the checksum (a
file changed after it was saved), and then the tape itself as the kernels will read it: every
op code known and replayable, each row's inputs earlier rows, its value inside its arena, its
shape in the shape table with as many elements as the row, the index lists inside the index
table, guard and output rows consistent with the rows they read.  Anything else raises a
``ValueError`` saying what is wrong.  Then one replay at the saved inputs must give the saved
values again.  Not checked op by op: a row's attributes (dims, index-list offsets, constants)
against what its op makes of them, so a file edited on purpose and given a new checksum whose
row has another family's op code, or other attributes, is trusted as the recorder's own rows
are (and can read outside its arrays); the checksum is what stands between such an edit and the
kernels.

A trace that needs Python objects to replay cannot be saved (``ValueError``): custom Functions,
hooks, guards Python checks by running an op again, and variants that run the function at each
call.  Parameters (tensors the function read from outside) are saved with their values now;
the loaded trace holds them as constants.  A loaded trace cannot record the function again: a
guard that fails at new inputs raises ``TraceGuardError``; the gradient program of ``hessian``
and ``hvp`` is recorded on a copy of the file's variant.
"""
from __future__ import annotations

import hashlib
import io
import os
import weakref
import zipfile
from typing import BinaryIO, Union

import numpy as np

from . import _dtype as D
from ._replay import GUARD, PY_GUARD
from ._sweep import _PYTHON_START, FAMILY
from ._stops import FREED
from ._tape import _DEFAULTS, Tape
from ._tensor import _plain
from ._trace import EXTRA, Trace, _Variant
from .ops._spec import (BINARY, CONST, INPUT, LISTED, N_INT_COLS, OUTPUT, R_A, R_B, R_DT, R_FR, R_HID, R_IA, R_LN,
                        R_LO, R_NOUT, R_NUM, R_OFF, R_OP, R_RG, R_SHP, REGISTRY, UNARY)

__all__ = ["save", "load_trace", "to_bytes", "catalogue_hash"]

FORMAT = "tape.trace"
VERSION = 1
_FLOATS = {"float64": D.float64, "float32": D.float32, "float16": D.float16}
# Each member: its dtype and number of dimensions.
_MEMBERS = {"format": ("U", 1), "catalogue": ("U", 0), "checksum": ("U", 0), "R": ("i8", 2), "F": ("f8", 2),
            "v64": ("f8", 1), "v32": ("f4", 1), "stab": ("i8", 1), "ix": ("i8", 1), "inputs": ("i8", 1),
            "in_dtypes": ("U", 1), "outs": ("i8", 1), "out_dtypes": ("U", 1), "consts": ("f8", 1),
            "single": ("i8", 0), "guards": ("i8", 1), "where": ("U", 1)}
_CHECKED = [k for k in _MEMBERS if k != "checksum"]
_MAX_NDIM = 64


def catalogue_hash() -> str:
    """A hash of the op catalogue as a tape refers to it: each op's code, name, arity, whether it
    has several outputs, and the row format's constants."""
    h = hashlib.sha256(f"rows {N_INT_COLS} {INPUT} {CONST} {OUTPUT} {GUARD} {PY_GUARD}".encode())
    for code in sorted(REGISTRY):
        op = REGISTRY[code]
        h.update(f"|{code} {op.name} {op.arity} {int(op.multi)} {op.saved}".encode())
    return h.hexdigest()


def _checksum(arrays: dict) -> str:
    h = hashlib.sha256()
    for key in _CHECKED:
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key} {a.dtype.str} {a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# --- saving -------------------------------------------------------------------------------------
def _refuse(why: str) -> None:
    raise ValueError(f"Trace.save: this trace cannot be saved: {why}")


def _arrays(tr) -> dict:
    """The members of the file for the trace's most recent variant."""
    var = tr.variants[0]
    tape = var.tape
    n = tape.n
    if not var.compiled:
        _refuse("it runs the function at each call (a custom Function, an op without a compiled forward, "
                "or a function that changes outside tensors in place), and a file holds no code")
    if tape.pyrows:
        _refuse("it holds custom autograd Functions, whose code a file cannot hold")
    if var.segments:
        _refuse("it holds rows that Python computes by calling their op again (a reduction, sort, scatter, "
                "LAPACK ...), whose code a file cannot hold")
    if tape.hooks:
        _refuse("it holds hooks (Python callbacks)")
    if var.checks:
        _refuse("it holds guards that Python checks by running an op again (a comparison of two tensors, an "
                "index from argmax or nonzero, a result read under no_grad ...), whose code a file cannot hold")
    R = tape.R[:, :n].copy()
    R[R_FR] &= ~np.int64(FREED)
    consts, out_dtypes = [], []
    for k, node in enumerate(var.outs):
        if node < 0:
            c = var.consts[k]
            if not c._dtype.is_floating_point:
                _refuse(f"its output {k} is a constant of dtype {c._dtype}")
            consts.append(np.asarray(c._value(), np.float64).reshape(-1))
            out_dtypes.append(f"{c._dtype.np.name}{list(c._shape)}")
        else:
            out_dtypes.append("")
    for t in var.leaves:
        if t._dtype.np.name not in _FLOATS:
            _refuse(f"an input has dtype {t._dtype}")
    guards = np.array(sorted(r for r in var.where if tape.op[r] == GUARD), np.int64)
    arrays = {
        "format": np.array([FORMAT, str(VERSION)]),
        "catalogue": np.array(catalogue_hash()),
        "R": R, "F": tape.F[:, :n].copy(),
        "v64": tape.v64[:tape.t64].copy(), "v32": tape.v32[:tape.t32].copy(),
        "stab": tape.stab[:tape.stop].copy(), "ix": tape.ix[:tape.tix].copy(),
        "inputs": np.array(var.in_nodes, np.int64),
        "in_dtypes": np.array([t._dtype.np.name for t in var.leaves], dtype="U16"),
        "outs": np.array(var.outs, np.int64),
        "out_dtypes": np.array(out_dtypes, dtype="U256"),
        "consts": np.concatenate(consts) if consts else np.zeros(0),
        "single": np.array(int(var.single), np.int64),
        "guards": guards,
        "where": np.array([var.where[int(r)] for r in guards], dtype=str) if len(guards) else np.zeros(0, "U1"),
    }
    arrays["checksum"] = np.array(_checksum(arrays))
    return arrays


def to_bytes(tr) -> bytes:
    """The saved trace as the bytes of its file."""
    buf = io.BytesIO()
    np.savez(buf, **_arrays(tr))
    return buf.getvalue()


def save(tr, path: Union[str, os.PathLike, BinaryIO]) -> None:
    data = to_bytes(tr)
    if hasattr(path, "write"):
        path.write(data)
        return
    with open(path, "wb") as f:
        f.write(data)


# --- loading ------------------------------------------------------------------------------------
class _Bad(ValueError):
    pass


def _bad(why: str):
    raise _Bad(why)


def _members(data: bytes) -> dict:
    """The arrays of the file, each checked as a plain array of the dtype and rank expected."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in zf.infolist()}
    except Exception as e:      # (zipfile raises many kinds for a damaged file: all mean the same here)
        _bad(f"not a zip file ({type(e).__name__}: {e})")
    names = {k + ".npy" for k in _MEMBERS}
    if set(infos) != names:
        missing = sorted(names - set(infos))
        _bad(f"its members are not a saved trace's (missing {missing[:3]})" if missing else
             "it has members a saved trace does not have")
    out = {}
    for key, (kind, ndim) in _MEMBERS.items():
        info = infos[key + ".npy"]
        if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(data):
            _bad(f"member {key} is compressed or larger than the file")
        try:
            raw = zf.read(info)         # (checks the member's CRC)
        except Exception as e:
            _bad(f"member {key} cannot be read ({type(e).__name__}: {e})")
        f = io.BytesIO(raw)
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                _bad(f"member {key} has an unknown array format {version}")
        except _Bad:
            raise
        except (ValueError, SyntaxError, TypeError, EOFError, OverflowError, MemoryError) as e:
            _bad(f"member {key} has a bad array header ({e})")
        native = dtype.kind == "U" and dtype.byteorder in "=<|" and dtype.itemsize if kind == "U" else \
            dtype == np.dtype(kind)
        if not native or fortran or len(shape) != ndim:
            _bad(f"member {key} is not a {ndim}-d array of the expected dtype (got {dtype}, {len(shape)}-d)")
        count = 1
        for d in shape:
            count *= d
        if count * dtype.itemsize != len(raw) - f.tell():
            _bad(f"member {key}'s size does not match its shape {shape}")
        out[key] = np.frombuffer(raw, dtype, count=count, offset=f.tell()).reshape(shape).copy()
    return out


def _shapes(stab: np.ndarray) -> dict:
    """The shape table's entries: offset -> shape (entry 0 is the 0-d shape)."""
    m = stab.shape[0]
    if m < 1 or stab[0] != 0:
        _bad("the shape table does not start with the 0-d shape")
    shapes = {0: ()}
    s = 1
    while s < m:
        nd = int(stab[s])
        if nd < 0 or nd > _MAX_NDIM or s + 1 + nd > m:
            _bad(f"the shape table's entry at {s} is out of range")
        dims = stab[s + 1:s + 1 + nd]
        if (dims < 0).any() or (dims > 1 << 40).any():
            _bad(f"the shape table's entry at {s} has a bad dimension")
        shapes[s] = tuple(int(d) for d in dims)
        s += 1 + nd
    return shapes


def _validate(a: dict) -> None:
    """The tape as the compiled replay and sweeps read it (``_members`` checked dtypes and ranks)."""
    R, F = a["R"], a["F"]
    if R.shape[0] != N_INT_COLS or F.shape[0] != 2 or R.shape[1] != F.shape[1]:
        _bad("the row columns have the wrong shapes")
    n = R.shape[1]
    if n == 0:
        _bad("the tape has no rows")
    shapes = _shapes(a["stab"])
    arenas = (a["v64"].shape[0], a["v32"].shape[0])
    ix = a["ix"]
    op, dt, off, num, shp = R[R_OP], R[R_DT], R[R_OFF], R[R_NUM], R[R_SHP]
    rows = np.arange(n)
    codes = {int(c) for c in np.unique(op)}
    for c in codes:
        if c in (INPUT, CONST, OUTPUT, GUARD):
            continue
        o = REGISTRY.get(c)
        if o is None:
            _bad(f"op code {c} is not in the catalogue")
        if c >= _PYTHON_START and (o.forward is None or o.multi or o.arity not in (1, 2)):
            _bad(f"op code {c} ({o.name}) has no forward a saved trace can replay")
        if c < _PYTHON_START and FAMILY[c] < 0:
            _bad(f"op code {c} ({o.name}) has no compiled forward")
    if not np.isin(dt, (0, 1)).all():
        _bad("a row's arena (dtype) is not 0 or 1")
    if (num < 0).any() or (off < 0).any():
        _bad("a row has a negative offset or element count")
    size = np.where(dt == 0, arenas[0], arenas[1])
    if (off + num > size).any():
        r = int(np.flatnonzero(off + num > size)[0])
        _bad(f"row {r}'s value lies outside its arena")
    for r in range(n):
        s = int(shp[r])
        if s not in shapes:
            _bad(f"row {r}'s shape is not an entry of the shape table")
        count = 1
        for d in shapes[s]:
            count *= d
        if count != num[r]:
            _bad(f"row {r}'s shape {shapes[s]} does not hold its {int(num[r])} elements")
    for col, name in ((R_RG, "requires-grad"), (R_HID, "hidden")):
        if not np.isin(R[col], (0, 1)).all():
            _bad(f"a row's {name} flag is not 0 or 1")
    if (R[R_FR] < 0).any() or (R[R_FR] & FREED).any() or ((R[R_FR] >> 2) > n).any():
        _bad("a row's in-place column is out of range")
    a_, b_, ln, lo, nout = R[R_A], R[R_B], R[R_LN], R[R_LO], R[R_NOUT]
    for col, name in ((a_, "first"), (b_, "second")):
        bad = (col < -1) | (col >= rows)
        if bad.any():
            _bad(f"row {int(np.flatnonzero(bad)[0])}'s {name} input is not an earlier row")
    if (ln < 0).any() or (lo < 0).any() or (lo + ln > ix.shape[0]).any() or (nout < 0).any() or \
            ((nout > 0) & (rows + nout >= n)).any():
        _bad("a row's input list or output count is out of range")
    for r in np.flatnonzero(ln).tolist():
        xs = ix[lo[r]:lo[r] + ln[r]]
        if a_[r] != -1 or b_[r] != -1 or (xs < 0).any() or (xs >= r).any():
            _bad(f"row {r}'s listed inputs are not earlier rows")
    for r in range(n):
        c = int(op[r])
        x, y = int(a_[r]), int(b_[r])
        if c in (INPUT, CONST):
            if x != -1 or y != -1 or ln[r] or nout[r]:
                _bad(f"row {r} brings a value in but has inputs")
            continue
        if c == OUTPUT:
            if x < 0 or y != -1 or ln[r] or nout[r] or not (0 <= R[R_IA, r] < nout[x]) or r - x != R[R_IA, r] + 1 \
                    or dt[r] != dt[x] or off[r] < off[x] or off[r] + num[r] > off[x] + num[x]:
                _bad(f"output row {r} does not match the row it is an output of")
            continue
        if c == GUARD:
            if x < 0 or y != -1 or ln[r] or nout[r] or dt[r] != 0 or num[r] != num[x] or not 0 <= R[R_IA, r] < 8:
                _bad(f"guard row {r} does not match the row it reads")
            continue
        o = REGISTRY[c]
        listed = ln[r] > 0
        if o.arity == LISTED:
            if not listed and x < 0:
                _bad(f"row {r} ({o.name}) has no inputs")
        elif listed or x < 0 or (o.arity == 2) != (y >= 0):
            _bad(f"row {r} ({o.name}) does not have the op's {o.arity} input(s)")
        if nout[r]:
            if not o.multi or r + nout[r] >= n or (op[r + 1:r + 1 + nout[r]] != OUTPUT).any() or \
                    (a_[r + 1:r + 1 + nout[r]] != r).any():
                _bad(f"row {r} ({o.name}) is not followed by its output rows")
        if c in UNARY or c in BINARY:
            if num[x] != num[r] or (y >= 0 and num[y] != num[r]):
                _bad(f"elementwise row {r} ({o.name}) has inputs of another size")
    if (op == OUTPUT).sum() != int(nout.sum()):
        _bad("output rows do not match the rows' output counts")
    inputs, outs = a["inputs"], a["outs"]
    if (inputs < 0).any() or (inputs >= n).any() or (op[inputs] != INPUT).any() or \
            np.unique(inputs).shape[0] != inputs.shape[0]:
        _bad("the trace's inputs are not distinct INPUT rows")
    if a["in_dtypes"].shape[0] != inputs.shape[0]:
        _bad("the input dtypes do not match the inputs")
    for k, name in enumerate(a["in_dtypes"].tolist()):
        if name not in _FLOATS or _FLOATS[name].arena != dt[inputs[k]]:
            _bad(f"input {k}'s dtype {name!r} is not a floating dtype of its row's arena")
    if outs.shape[0] == 0 or (outs < -1).any() or (outs >= n).any() or a["out_dtypes"].shape[0] != outs.shape[0]:
        _bad("the trace's outputs are not rows of the tape")
    if a["single"] not in (0, 1) or (a["single"] == 1 and outs.shape[0] != 1):
        _bad("the trace's output count is inconsistent")
    used = 0
    for k, node in enumerate(outs.tolist()):
        spec = a["out_dtypes"][k]
        if node >= 0:
            if spec != "":
                _bad(f"output {k} is a row and a constant")
            continue
        name, _, rest = spec.partition("[")
        try:
            shape = tuple(int(d) for d in rest.rstrip("]").split(",") if d.strip()) if rest.endswith("]") else None
        except ValueError:
            shape = None
        if name not in _FLOATS or shape is None or any(d < 0 for d in shape) or len(shape) > _MAX_NDIM:
            _bad(f"output {k}'s constant is described badly ({spec!r})")
        m = int(np.prod(shape, dtype=np.int64))
        if used + m > a["consts"].shape[0]:
            _bad(f"output {k}'s constant lies outside the constants")
        used += m
    if used != a["consts"].shape[0]:
        _bad("the constants do not match the constant outputs")
    guards = a["guards"]
    if guards.shape != a["where"].shape or (guards < 0).any() or (guards >= n).any() or (op[guards] != GUARD).any():
        _bad("the guard table does not list guard rows")


def _read(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if hasattr(source, "read"):
        return source.read()
    with open(source, "rb") as f:
        return f.read()


def _variant(a: dict) -> _Variant:
    """A variant on a new tape holding the (checked) file's rows and values, at its saved inputs."""
    R, F = a["R"], a["F"]
    n = R.shape[1]
    tape = Tape(n)
    Rf = np.repeat(_DEFAULTS, n, axis=1)
    Rf[:, :n] = R
    tape._columns(Rf, F.copy())
    tape.n = n
    tape._arena64(a["v64"].copy())
    tape.t64 = a["v64"].shape[0]
    tape.v32 = a["v32"].copy()
    tape.t32 = a["v32"].shape[0]
    tape.stab = a["stab"].copy()
    tape.stop = 1
    tape.shape_ids, tape.shapes = {(): 0}, {0: ()}
    tape.learn_shapes(a["stab"].shape[0])
    tape.ix = a["ix"].copy()
    tape.tix = a["ix"].shape[0]
    var = _Variant()
    var.tape = tape
    var.in_nodes = [int(x) for x in a["inputs"]]
    var.leaves = []
    for node, name in zip(var.in_nodes, a["in_dtypes"].tolist()):
        leaf = _plain(np.array(tape.value_of(node), _FLOATS[name].np), _FLOATS[name])
        leaf._rg = True
        var.leaves.append(leaf)
        # (bound to its row, as a recording binds its stand-ins: the engine's backward, which a
        # Hessian's gradient program and the fallbacks of ``Trace._pullback`` run, finds it so)
        tape.src[node] = weakref.ref(leaf)
        leaf._ig, leaf._iv, leaf._in = tape.gen, 0, node
    var.outs = [int(x) for x in a["outs"]]
    used = 0
    for k, node in enumerate(var.outs):
        if node < 0:
            name, _, rest = str(a["out_dtypes"][k]).partition("[")
            shape = tuple(int(d) for d in rest.rstrip("]").split(",") if d.strip())
            m = int(np.prod(shape, dtype=np.int64))
            var.consts[k] = _plain(a["consts"][used:used + m].astype(_FLOATS[name].np).reshape(shape), _FLOATS[name])
            used += m
    var.single = bool(a["single"])
    var.where = {int(r): str(w) for r, w in zip(a["guards"], a["where"])}
    return var


class _Loaded(Trace):
    """A loaded trace.  It has no function to record again; what a trace records besides a new
    variant, the gradient program of ``hessian`` and ``hvp`` (``tape/_blocked.py``: the function
    and its ``create_graph`` gradient on one tape), is recorded on a new copy of the file's
    variant."""

    def _record(self, inputs: tuple) -> _Variant:
        return self._link(_variant(self.arrays))


def load_trace(source: Union[str, os.PathLike, BinaryIO, bytes]):
    """Load a trace that :meth:`Trace.save` wrote (``source``: a file name, a binary file or the
    file's bytes).  The file is checked before anything runs: a file from another version of the
    op catalogue, or a corrupted, truncated or edited one, raises ``ValueError``.

    The loaded trace replays as the saved one did (``tr(...)``, ``grad``, ``map`` ...), with the
    parameters it read saved as constants; it cannot record the function again, so a guard
    that fails at new inputs raises ``TraceGuardError``."""
    data = _read(source)
    try:
        a = _members(data)
        fmt = a["format"].tolist()
        if len(fmt) != 2 or fmt[0] != FORMAT:
            _bad("not a saved tape trace")
        if fmt[1] != str(VERSION):
            _bad(f"it was saved in format version {fmt[1]}, this tape reads version {VERSION}")
        if str(a["catalogue"]) != catalogue_hash():
            _bad("it was saved by a tape with another op catalogue (codes, names or arities differ); record the "
                 "function again with this version")
        if str(a["checksum"]) != _checksum(a):
            _bad("its checksum does not match: the file was changed after it was saved")
        _validate(a)
    except _Bad as e:
        raise ValueError(f"tape.load_trace: cannot load the file: {e}") from None
    var = _variant(a)
    tr = object.__new__(_Loaded)
    tr.arrays = a
    tr.fn = None
    tr.strict = True        # (no function to record again)
    tr.optimize = False      # (its rows are as saved)
    tr.cache_size = 1
    tr.signature = tuple((leaf._shape, leaf._dtype) for leaf in var.leaves)
    tr.records = 0
    tr.variants = [var]
    try:
        tr._link(var)
    except Exception as e:      # (a Python row of an edited file: numpy's error for its operands)
        raise ValueError(f"tape.load_trace: cannot load the file: replaying its rows at the saved inputs failed "
                         f"({type(e).__name__}: {e})") from None
    if not var.compiled:
        raise ValueError("tape.load_trace: cannot load the file: replaying its rows at the saved inputs does not give "
                         "the saved values (its rows were edited)")
    return tr


EXTRA["save"] = save
