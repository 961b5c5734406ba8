"""Saved traces: ``Trace.save`` and ``tape.load_trace``.

A round trip replays bitwise as the saved trace (values, gradients, batches), in this process and
in a fresh one without the function's source; traces that need Python objects refuse to save; a
file from another op catalogue refuses to load.  The corruption fuzz: bit flips, truncations, and
hand edits of the tape's arrays (op codes: unknown ones, or an elementwise op swapped for another;
inputs, offsets, element counts, shapes, arenas, index lists, the inputs' and outputs' rows),
given a new checksum so that the checks after it are the ones tested: every file either raises
``ValueError`` or, when the edit left a valid file, loads and replays (the process never
crashes).  300 files in the ``ci`` profile, 10,000 in ``thorough``.
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tape
from tape import TraceGuardError
from tape import _trace_io
from tape.ops._spec import BINARY, REGISTRY, UNARY

FUZZ = 10_000 if os.environ.get("TAPE_HYPOTHESIS_PROFILE") == "thorough" else 300


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def _arrays_fn(x, w):
    y = (x @ w) * 0.5 + x * x
    z = tape.cat([y.sum(0), y.mean(0)]).reshape(2, 3)
    if z.sum() > -100:
        z = z * 3.0 - 1.0
    return z.sum(), z.t()


def _scalar_fn(a, b):
    c = a * b + a.sin()
    return (c.exp() if c > 0 else c.cos()) * b


def _flat(r) -> list:
    """The arrays of a result nested in tuples (a Hessian's blocks)."""
    return [a for t in r for a in _flat(t)] if isinstance(r, tuple) else [r.numpy()]


def _saved(tr) -> bytes:
    buf = io.BytesIO()
    tr.save(buf)
    return buf.getvalue()


@pytest.fixture(scope="module")
def traces():
    rng = np.random.default_rng(0)
    x = tape.tensor(rng.normal(size=(2, 3)))
    w = tape.tensor(rng.normal(size=(3, 3)) / 2)
    arrays = tape.trace(_arrays_fn, x, w)
    scalar = tape.trace(_scalar_fn, tape.tensor(0.4, dtype=tape.float64), tape.tensor(0.7, dtype=tape.float64))
    f32 = tape.trace(lambda x: (x * x.cos()).sum(), tape.ones(4))
    return {"arrays": (arrays, (x, w)), "scalar": (scalar, (tape.tensor(0.4, dtype=tape.float64),
                                                              tape.tensor(0.7, dtype=tape.float64))),
            "f32": (f32, (tape.ones(4),))}


@pytest.mark.parametrize("name", ["arrays", "scalar", "f32"])
def test_round_trip_replays_bitwise(traces, name, tmp_path):
    tr, inputs = traces[name]
    path = tmp_path / "t.npz"
    tr.save(path)
    loaded = tape.load_trace(path)
    assert loaded.signature == tr.signature
    rng = np.random.default_rng(1)
    for _ in range(3):
        xs = tuple(tape.tensor(np.asarray(t.numpy() * rng.uniform(0.9, 1.1, size=tuple(t.shape))), dtype=t.dtype)
                   for t in inputs)
        got, want = loaded(*xs), tr(*xs)
        got, want = ((got,), (want,)) if isinstance(got, tape.Tensor) else (got, want)
        assert all(_same(a.numpy(), b.numpy()) for a, b in zip(got, want))
        if name != "arrays":
            assert _same(loaded.grad(*xs).numpy(), tr.grad(*xs).numpy())
    batch = tuple(tape.tensor(np.stack([t.numpy() * s for s in (0.95, 1.0, 1.05)]), dtype=t.dtype) for t in inputs)
    got, want = loaded.map(*batch), tr.map(*batch)
    got, want = ((got,), (want,)) if isinstance(got, tape.Tensor) else (got, want)
    assert all(_same(a.numpy(), b.numpy()) for a, b in zip(got, want))
    assert _saved(loaded) == _saved(tr) or name == "scalar"      # (what the last replay left in the arena)


def test_loaded_trace_cannot_record_again(traces):
    tr, _ = traces["scalar"]
    loaded = tape.load_trace(_saved(tr))
    with pytest.raises(TraceGuardError, match="c > 0"):
        loaded(tape.tensor(-2.0, dtype=tape.float64), tape.tensor(0.7, dtype=tape.float64))


@pytest.mark.parametrize("name", ["scalar", "f32"])
def test_loaded_trace_second_derivatives_and_engine_gradients(traces, name):
    # A loaded trace has no function: hessian and hvp record their gradient program on a copy of
    # the file's variant (they called the missing function: TypeError, then zeros from hvp); its
    # arguments are bound to their rows, so the engine's backward (anomaly mode) finds them (zeros).
    tr, inputs = traces[name]
    loaded = tape.load_trace(_saved(tr))
    xs = tuple(t * 1.1 for t in inputs)
    vs = tuple(tape.ones_like(t) * 0.5 for t in inputs)
    for got, want in ((loaded.hessian(*xs), tr.hessian(*xs)), (loaded.hvp(xs, vs)[1], tr.hvp(xs, vs)[1])):
        got, want = _flat(got), _flat(want)
        assert all(np.allclose(g, w, rtol=1e-6, atol=0) and np.abs(w).max() > 0 for g, w in zip(got, want))
    nums = tuple(range(len(xs)))
    want = tr.grad(*xs, argnums=nums)
    with pytest.warns(UserWarning), tape.autograd.detect_anomaly():
        got = loaded.grad(*xs, argnums=nums)
    assert all(_same(g.numpy(), w.numpy()) for g, w in zip(got, want))
    assert loaded.hessian(*xs) is not None     # (the cached gradient program, again)


def test_fresh_process_replays_without_the_source(traces, tmp_path):
    tr, inputs = traces["arrays"]
    path = tmp_path / "t.npz"
    tr.save(path)
    x, w = inputs
    want = tr(x * 1.01, w)
    script = ("import sys, numpy as np, tape\n"
              "tr = tape.load_trace(sys.argv[1])\n"
              "x = tape.tensor(np.load(sys.argv[2])); w = tape.tensor(np.load(sys.argv[3]))\n"
              "s, t = tr(x, w)\n"
              "sys.stdout.write(s.numpy().tobytes().hex() + ' ' + t.numpy().tobytes().hex())\n")
    np.save(tmp_path / "x.npy", (x * 1.01).numpy())
    np.save(tmp_path / "w.npy", w.numpy())
    out = subprocess.run([sys.executable, "-c", script, str(path), str(tmp_path / "x.npy"), str(tmp_path / "w.npy")],
                         capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [want[0].numpy().tobytes().hex(), want[1].numpy().tobytes().hex()]


def test_traces_holding_python_objects_refuse_to_save():
    class Square(tape.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g
    x = tape.ones(3, dtype=tape.float64)
    with pytest.raises(ValueError, match="cannot be saved"):
        tape.trace(lambda t: Square.apply(t).sum(), x).save(io.BytesIO())
    y = tape.ones(3, dtype=tape.float64)
    with pytest.raises(ValueError, match="guards that Python checks"):
        tape.trace(lambda t: t.sum() if bool((t > y).any()) else t.exp().sum(), x).save(io.BytesIO())

    def hooked(t):
        u = t * 2
        u.register_hook(lambda g: g)
        return u.sum()
    with pytest.raises(ValueError, match="cannot be saved"):
        tape.trace(hooked, x).save(io.BytesIO())
    # (a row Python computes by calling its op again: ``amax``)
    with pytest.raises(ValueError, match="calling their op again"):
        tape.trace(lambda t: t.amax() * t.sin().sum(), x).save(io.BytesIO())


def test_another_catalogue_or_version_refuses_to_load(traces, monkeypatch):
    data = _saved(traces["scalar"][0])
    monkeypatch.setattr(_trace_io, "catalogue_hash", lambda: "0" * 64)
    with pytest.raises(ValueError, match="another op catalogue"):
        tape.load_trace(data)
    monkeypatch.undo()
    members = _members(data)
    members["format"] = np.array(["tape.trace", "999"])
    with pytest.raises(ValueError, match="format version 999"):
        tape.load_trace(_rewrite(members))


def test_a_changed_file_fails_its_checksum(traces):
    members = _members(_saved(traces["arrays"][0]))
    members["F"][0, 5] += 1.0
    with pytest.raises(ValueError, match="checksum"):
        tape.load_trace(_rewrite(members, fix=False))


def test_validation_messages(traces):
    base = _members(_saved(traces["arrays"][0]))
    n = base["R"].shape[1]
    r = int(np.flatnonzero(base["R"][0] >= 10)[-1])

    def check(edit, match):
        m = {k: v.copy() for k, v in base.items()}
        edit(m)
        with pytest.raises(ValueError, match=match):
            tape.load_trace(_rewrite(m))
    check(lambda m: m["R"].__setitem__((0, r), 899), "not in the catalogue")
    check(lambda m: m["R"].__setitem__((5, r), r), "not an earlier row")
    check(lambda m: m["R"].__setitem__((2, r), m["v64"].shape[0]), "outside its arena")
    first = int(np.flatnonzero(base["R"][0] >= 10)[0])
    check(lambda m: m["R"].__setitem__((3, first), m["R"][3, first] + 1), "does not hold")
    check(lambda m: m["R"].__setitem__((1, r), 2), "arena")
    check(lambda m: m.__setitem__("inputs", np.array([n - 1, 0])), "inputs")
    check(lambda m: m.__setitem__("R", m["R"].astype(np.int32)), "expected dtype")
    check(lambda m: m.__setitem__("stab", m["stab"][:-1]), "shape table")


# --- the fuzz ---------------------------------------------------------------------------------------
def _members(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _rewrite(members: dict, fix: bool = True) -> bytes:
    if fix:
        members["checksum"] = np.array(_trace_io._checksum(members))
    buf = io.BytesIO()
    np.savez(buf, **members)
    return buf.getvalue()


_EDITABLE = [("R", (0, 1, 2, 3, 4, 5, 6, 12, 13, 14)), ("stab", None), ("ix", None), ("inputs", None),
             ("outs", None), ("guards", None), ("single", None)]


def _corrupt(data: bytes, rng) -> bytes:
    kind = rng.integers(4)
    if kind == 0:       # bit flips anywhere
        b = bytearray(data)
        for _ in range(rng.integers(1, 9)):
            i = rng.integers(len(b))
            b[i] ^= 1 << rng.integers(8)
        return bytes(b)
    if kind == 1:       # truncated
        return data[:rng.integers(len(data))]
    members = _members(data)
    if kind == 2:       # an array shortened or lengthened, checksum made again
        key = rng.choice(["R", "F", "v64", "v32", "stab", "ix", "inputs", "outs", "consts", "where", "guards"])
        a = members[key]
        if a.ndim and a.shape[-1]:
            members[key] = a[..., :rng.integers(a.shape[-1])] if rng.integers(2) else np.concatenate([a, a], axis=-1)
        return _rewrite(members)
    # a hand edit of one integer the kernels index with, checksum made again
    key, rows = _EDITABLE[rng.integers(len(_EDITABLE))]
    a = members[key]
    if a.size == 0:
        return _rewrite(members)
    if key == "R":
        col, j = rows[rng.integers(len(rows))], rng.integers(a.shape[1])
        where = (col, j)
        old = int(a[where])
    else:
        where = () if a.ndim == 0 else (rng.integers(a.shape[0]),)
        old = int(a[where])
    if key == "R" and where[0] == 0:
        new = _another_code(old, rng)
    else:
        new = [old + rng.integers(-3, 4), -old - 1, int(rng.integers(-2, 1100)), old * 2 + 1][rng.integers(4)]
    a[where] = new
    return _rewrite(members)


_ELEMENTWISE = {fam: [c for c, op in REGISTRY.items() if c in fam and op.arity == (1 if fam is UNARY else 2)]
                for fam in (UNARY, BINARY)}


def _another_code(old: int, rng) -> int:
    """A code not in the catalogue, or (for an elementwise row) another elementwise op of its
    family, which reads the same attributes.  (A code of another family reads the row's attributes
    as that family's: the loader does not check them op by op; see tape/_trace_io.py.)"""
    for fam, codes in _ELEMENTWISE.items():
        if old in fam and rng.integers(2):
            return int(codes[rng.integers(len(codes))])
    while True:
        c = int(rng.integers(-5, 1100))
        if c not in REGISTRY and c not in (0, 1, 2, 9):
            return c


def test_corrupted_files_raise_valueerror_or_replay(traces):
    rng = np.random.default_rng(2026)
    sources = [(_saved(tr), inputs) for tr, inputs in traces.values()]
    outcomes = {"ValueError": 0, "replayed": 0}
    for k in range(FUZZ):
        data, inputs = sources[k % len(sources)]
        bad = _corrupt(data, rng)
        try:
            loaded = tape.load_trace(bad)
        except ValueError as e:
            assert str(e).startswith("tape.load_trace: cannot load the file: "), e
            outcomes["ValueError"] += 1
            continue
        # The edit left a valid file (a bit flip in a zip field nothing reads, an edit to the same
        # value ...): it replays.
        try:
            loaded(*inputs)
            loaded.jacobian(*inputs)
            if loaded.variants[0].single and int(np.prod(loaded(*inputs).shape)) == 1:
                loaded.hessian(*inputs)     # (a gradient program recorded on the file's rows)
        except TraceGuardError:
            pass
        outcomes["replayed"] += 1
    assert outcomes["ValueError"] > FUZZ // 2, outcomes      # (not a fuzz that edits nothing)


def test_zip_members_are_checked_before_reading(traces):
    data = _saved(traces["f32"][0])
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info))
    with pytest.raises(ValueError, match="compressed"):
        tape.load_trace(buf.getvalue())
    with pytest.raises(ValueError, match="not a zip file"):
        tape.load_trace(b"PK\x03\x04 not really")
    members = _members(data)
    members["extra"] = np.zeros(1)
    with pytest.raises(ValueError, match="members"):
        tape.load_trace(_rewrite(members))
    members = _members(data)
    members["where"] = np.array([object()], dtype=object)
    with pytest.raises(ValueError):
        tape.load_trace(_rewrite_pickled(members))


def _rewrite_pickled(members: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **members)    # (an object array: pickled by numpy, which load_trace must refuse)
    return buf.getvalue()
