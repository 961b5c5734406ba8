"""Differential fuzzer over the spatial and indexing functionals: convolutions (and transposed ones), max,
average and adaptive pools, ``F.pad``, ``F.embedding``, ``F.scaled_dot_product_attention``, ``F.interpolate``,
``F.unfold``/``F.fold``, and the scatter-style ops with their edge cases (empty and out-of-range indices,
wrong ranks and dtypes).

It extends the catalogue fuzzer (``tests/test_fuzz_catalogue_torch.py``), whose steps stay in the mix: every
line runs with ``L = torch`` and ``L = tape``, every new tensor is compared (shape, dtype, requires_grad,
is_leaf, grad_fn name, values), then ``.grad`` of leaves, ``autograd.grad`` and second derivatives; an error
must agree in type and whole message.

A larger local run draws fresh programs over a range of seeds and prints each distinct failure once::

    python tests/test_fuzz_spatial_torch.py 0 100 [backward|grad|second]   # 25 programs a seed and mode
"""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import tape  # noqa: E402

if __name__ == "__main__":        # run as a script: the checkout's tests package
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0])
from tests.test_fuzz_catalogue_torch import CatalogueProgram, _outcome  # noqa: E402
from tests.test_fuzz_spatial import ERRORS as FOUND_ERRORS, VALUES as FOUND_VALUES  # noqa: E402
from tests._fuzz_seeds import main as fuzz_main  # noqa: E402
from tests.test_random_programs import _KnownBugStop  # noqa: E402

GROUPS = ["inherited", "conv", "conv", "pool", "pool", "pad", "embedding", "attention", "interpolate", "fold",
          "scatter", "scatter"]
PAD_MODES = ["constant", "constant", "reflect", "replicate", "circular", "wrap"]
INTERP_MODES = {1: ["nearest", "nearest-exact", "linear", "area", "bilinear"],
                2: ["nearest", "nearest-exact", "bilinear", "bicubic", "area", "linear"],
                3: ["nearest", "trilinear", "area"]}
SCATTERS = ["scatter", "scatter_value", "scatter_reduce_kw", "scatter_add", "scatter_reduce", "index_add",
            "index_copy", "index_fill", "masked_scatter", "put", "gather", "scatter_", "index_add_", "index_copy_"]


class SpatialProgram(CatalogueProgram):

    def step(self):
        group = self.draw(st.sampled_from(GROUPS), label="spatial group")
        if group == "inherited":
            super().step()
            return
        a = self.pick()
        ta = self.t(a)
        self.after = []
        expr = getattr(self, f"sp_{group}")(a, ta)
        name = self.fresh()
        line = f"{name} = {expr}"
        if self.no_grad_left:
            line = f"with L.no_grad(): {line}"
        if self.run(line, name, check=self.after) and self.after:
            self.check_all(f"after {line!r}")

    # ---- helpers ----
    def spatial_input(self, a, ta, k, max_size=4):
        """An input of ``k`` spatial dims, batched or not: ``a`` when its rank fits (now and then whatever its
        rank: an error in both), else a new leaf."""
        if ta.is_floating_point() and (ta.dim() in (k + 1, k + 2) or self.draw(st.integers(0, 12)) == 0):
            return a, tuple(ta.shape)
        lead = (self.draw(st.integers(1, 2)),) * self.draw(st.integers(0, 1)) + (self.draw(st.integers(1, 3)),)
        shape = lead + tuple(self.draw(st.lists(st.integers(1, max_size), min_size=k, max_size=k)))
        return self.param(shape, self.fdtype(ta), self.draw(st.integers(0, 3)) > 0), shape

    def ints(self, k, lo, hi, tuple_ok=True):
        """An int or (now and then) a tuple of ``k`` ints."""
        if tuple_ok and k > 1 and self.draw(st.booleans()):
            return repr(tuple(self.draw(st.lists(st.integers(lo, hi), min_size=k, max_size=k))))
        return repr(self.draw(st.integers(lo, hi)))

    def other_dtype(self, dt):
        """``dt``, now and then the other float dtype (an error where the op wants equal dtypes)."""
        if self.draw(st.integers(0, 9)) == 0:
            return "float64" if dt == "float32" else "float32"
        return dt

    # ---- convolutions ----
    def sp_conv(self, a, ta):
        k = self.draw(st.integers(1, 3))
        transposed = self.draw(st.integers(0, 2)) == 0
        x, shape = self.spatial_input(a, ta, k, 4 if k < 3 else 3)
        dt = self.fdtype(ta)
        c_in = shape[-k - 1] if len(shape) > k else 1
        groups = self.draw(st.sampled_from([1, 1, 2, c_in]))
        c_per = max(c_in // max(groups, 1), 1) if self.draw(st.integers(0, 9)) else c_in + 1
        c_out = groups * self.draw(st.integers(1, 2))
        if self.draw(st.integers(0, 12)) == 0:
            c_out += 1
        ksz = tuple(self.draw(st.lists(st.integers(1, 3), min_size=k, max_size=k)))
        wshape = (c_in, c_out // max(groups, 1)) if transposed else (c_out, c_per)
        w = self.param(wshape + ksz, self.other_dtype(dt))
        b = "None"
        if self.draw(st.booleans()):
            bn = c_out if self.draw(st.integers(0, 12)) else c_out + 1
            b = self.param((bn,), self.other_dtype(dt))
        stride = self.ints(k, 1, 2)
        dil = self.ints(k, 1, 2)
        if transposed:
            pad = self.ints(k, 0, 1)
            opad = self.ints(k, 0, 1)
            sizes = shape[-k:] if len(shape) > k else (1,) * k
            sd, p, dl, op = ((v,) * k if isinstance(v, int) else v for v in map(eval, (stride, pad, dil, opad)))
            if any((s - 1) * sd[i] - 2 * p[i] + dl[i] * (ksz[i] - 1) + 1 + op[i] < 1 for i, s in enumerate(sizes)):
                # (an empty output: PyTorch's oneDNN kernel fails to describe it, its own kernels refuse it)
                pad = "0"
            return (f"F.conv_transpose{k}d({x}, {w}, {b}, stride={stride}, padding={pad}, output_padding={opad}, "
                    f"groups={groups}, dilation={dil})")
        pad = self.draw(st.sampled_from(["same", "valid", "int", "int"]))
        if pad == "int":
            pad = self.ints(k, 0, 2)
        else:
            pad = repr(pad)
            if self.draw(st.integers(0, 2)):
                stride = "1"
        return f"F.conv{k}d({x}, {w}, {b}, {stride}, {pad}, {dil}, {groups})"

    # ---- pools ----
    def sp_pool(self, a, ta):
        k = self.draw(st.integers(1, 3))
        kind = self.draw(st.sampled_from(["max", "max", "avg", "avg", "adaptive_avg", "adaptive_max", "lp"]))
        x, shape = self.spatial_input(a, ta, k, 5 if k < 3 else 3)
        if kind.startswith("adaptive"):
            if k > 1 and self.draw(st.booleans()):
                out = tuple(self.draw(st.sampled_from([1, 2, 3, None])) for _ in range(k))
            else:
                out = self.draw(st.integers(0, 3))
            ri = f", return_indices={self.draw(st.booleans())}" if kind == "adaptive_max" else ""
            return f"F.{kind}_pool{k}d({x}, {out!r}{ri})"
        ks = self.ints(k, 1, 3)
        stride = self.draw(st.sampled_from(["None", self.ints(k, 1, 2), self.ints(k, 1, 3)]))
        if kind == "lp":
            p = self.draw(st.sampled_from([1.0, 2.0, 3]))
            return f"F.lp_pool{k}d({x}, {p}, {ks}, stride={stride}, ceil_mode={self.draw(st.booleans())})"
        pad = self.ints(k, 0, 1)
        ceil = self.draw(st.booleans())
        if kind == "max":
            dil = self.ints(k, 1, 2)
            if dil != "1":
                # (a dilated window may then lie wholly in the padding: PyTorch gives -inf at an index past the
                # plane, whose backward writes out of bounds; tape raises)
                pad = "0"
            return (f"F.max_pool{k}d({x}, {ks}, {stride}, {pad}, {dil}, ceil_mode={ceil}, "
                    f"return_indices={self.draw(st.booleans())})")
        cip = self.draw(st.booleans())
        div = f", divisor_override={self.draw(st.sampled_from([None, 2, 3, 0]))}" if k > 1 else ""
        return f"F.avg_pool{k}d({x}, {ks}, {stride}, {pad}, ceil_mode={ceil}, count_include_pad={cip}{div})"

    # ---- padding ----
    def sp_pad(self, a, ta):
        mode = self.draw(st.sampled_from(PAD_MODES))
        nd = ta.dim()
        m = self.draw(st.integers(1, 3)) if mode != "constant" else self.draw(st.integers(0, min(nd, 3) if nd else 1))
        lo = -1 if mode == "constant" else 0
        pads = tuple(self.draw(st.lists(st.integers(lo, 2), min_size=2 * m, max_size=2 * m)))
        if self.draw(st.integers(0, 12)) == 0:
            pads = pads + (1,)
        val = f", value={self.draw(st.sampled_from([0.0, 1.5, -2.0, None]))}" if mode == "constant" and \
            self.draw(st.booleans()) else ""
        return f"F.pad({a}, {pads!r}, {mode!r}{val})"

    # ---- embedding ----
    def sp_embedding(self, a, ta):
        v = self.draw(st.integers(1, 4))
        d = self.draw(st.integers(1, 3))
        if ta.is_floating_point() and ta.dim() == 2 and self.draw(st.booleans()):
            w = a
            v, d = ta.shape
        else:
            w = self.param((v, d), self.fdtype(ta))
        ishape = tuple(self.draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
        n = math.prod(ishape)
        hi = v if self.draw(st.integers(0, 7)) == 0 or not v else v - 1
        vals = self.draw(st.lists(st.integers(-1 if self.draw(st.integers(0, 7)) == 0 else 0, hi),
                                  min_size=n, max_size=n))
        idt = self.draw(st.sampled_from(["int64", "int64", "int32", "float32"]))
        idx = f"L.tensor({np.array(vals, dtype=np.int64).reshape(ishape).tolist()!r}, dtype=L.{idt})"
        kw = ""
        if self.draw(st.booleans()):
            kw += f", padding_idx={self.draw(st.integers(-v - 1, v))}"
        if self.draw(st.integers(0, 3)) == 0:
            kw += ", scale_grad_by_freq=True"
        return f"F.embedding({idx}, {w}{kw})"

    # ---- attention ----
    def sp_attention(self, a, ta):
        dt = self.fdtype(ta)
        # (second order: no 4-d inputs, which PyTorch's CPU dispatch may send to its flash kernel, whose
        # derivative is first-order only; tape's is of every order)
        most = 1 if self.mode == "second" else 2
        batch = tuple(self.draw(st.lists(st.integers(1, 2), min_size=0, max_size=most)))
        lq, s, e, ev = (self.draw(st.integers(1, 3)) for _ in range(4))
        # (a query of no element: PyTorch returns before its checks, behind an AddBackward0; tape does not)
        if ta.is_floating_point() and 2 <= ta.dim() <= most + 2 and ta.numel() and self.draw(st.booleans()):
            q = a
            batch, (lq, e) = tuple(ta.shape[:-2]), tuple(ta.shape[-2:])
        else:
            q = self.param(batch + (lq, e), dt)
        kshape = batch + (s, e if self.draw(st.integers(0, 12)) else e + 1)
        k = self.param(kshape, self.other_dtype(dt), self.draw(st.booleans()))
        v = self.param(batch + (s, ev), dt, self.draw(st.booleans()))
        kw = ""
        mask = self.draw(st.sampled_from(["none", "none", "bool", "float", "bad"]))
        causal = self.draw(st.integers(0, 3)) == 0
        if mask != "none":
            mshape = self.draw(st.sampled_from([(lq, s), (1, s), batch + (lq, s), (lq, s + 1)]))
            if mask == "bad":
                mshape = (lq, s)
            n = math.prod(mshape)
            if mask in ("bool", "bad"):
                vals = self.draw(st.lists(st.booleans(), min_size=n, max_size=n))
                m = f"L.tensor({np.array(vals).reshape(mshape).tolist()!r})"
                if mask == "bad":
                    m += ".long()"
            else:
                m = self.param(mshape, dt, self.draw(st.booleans()))
            kw += f", attn_mask={m}"
            causal = causal and self.draw(st.booleans())
        if causal:
            kw += ", is_causal=True"
        if self.draw(st.booleans()):
            kw += f", scale={self.draw(st.sampled_from([0.5, 2.0, None, -1.0]))}"
        if self.draw(st.integers(0, 5)) == 0:
            kw += ", dropout_p=0.0"
        return f"F.scaled_dot_product_attention({q}, {k}, {v}{kw})"

    # ---- interpolation ----
    def sp_interpolate(self, a, ta):
        k = self.draw(st.integers(1, 3))
        x, shape = self.spatial_input(a, ta, k, 3)
        mode = self.draw(st.sampled_from(INTERP_MODES[k]))
        if self.draw(st.booleans()):
            size = self.ints(k, 1, 5)
            how = f"size={size}"
        else:
            sf = self.draw(st.sampled_from([2, 0.5, 1.5, 3.0, 2.5]))
            how = f"scale_factor={sf!r}"
            if self.draw(st.integers(0, 3)) == 0:
                how += f", recompute_scale_factor={self.draw(st.booleans())}"
        ac = ""
        if mode in ("linear", "bilinear", "bicubic", "trilinear") or self.draw(st.integers(0, 7)) == 0:
            ac = f", align_corners={self.draw(st.sampled_from([True, False, None]))}"
        return f"F.interpolate({x}, {how}, mode={mode!r}{ac})"

    # ---- unfold / fold ----
    def sp_fold(self, a, ta):
        ks = self.ints(2, 1, 2)
        dil = self.ints(2, 1, 2)
        pad = self.ints(2, 0, 1)
        stride = self.ints(2, 1, 2)
        if self.draw(st.booleans()):
            x, _ = self.spatial_input(a, ta, 2, 4)
            return f"F.unfold({x}, {ks}, {dil}, {pad}, {stride})"
        out = self.ints(2, 1, 4)
        ksz = eval(ks)
        ksz = ksz if isinstance(ksz, tuple) else (ksz, ksz)
        kk = ksz[0] * ksz[1]
        # (the block count PyTorch wants, or now and then another: an error in both)
        o, dl, p, sd = (eval(e) for e in (out, dil, pad, stride))
        o, dl, p, sd = ((e, e) if isinstance(e, int) else e for e in (o, dl, p, sd))
        blocks = math.prod(max((o[i] + 2 * p[i] - dl[i] * (ksz[i] - 1) - 1) // sd[i] + 1, 0) for i in range(2))
        if self.draw(st.integers(0, 9)) == 0:
            blocks += 1
        c = self.draw(st.integers(1, 2))
        if ta.is_floating_point() and tuple(ta.shape[-2:]) == (c * kk, blocks) and ta.dim() in (2, 3):
            x = a
        else:
            lead = (1,) * self.draw(st.integers(0, 1))
            x = self.param(lead + (c * kk, blocks), self.fdtype(ta))
        return f"F.fold({x}, {out}, {ks}, {dil}, {pad}, {stride})"

    # ---- scatter-style ops ----
    def unique_index(self, ta, d, kmax=3):
        """An int64 index of ``a``'s rank for ``scatter``: along ``d`` at most one entry per position and
        slice (PyTorch keeps any of repeated writes), now and then one out of range."""
        nd = ta.dim()
        shape = list(ta.shape) or [1]
        if not -len(shape) <= d < len(shape):
            return "L.tensor([[0]])"
        sz = shape[d]
        k = self.draw(st.integers(0, min(kmax, sz)))
        shape[d] = k
        moved = np.zeros(shape, dtype=np.int64)
        for pos in np.ndindex(*[s for i, s in enumerate(shape) if i != d % len(shape)]):
            perm = self.draw(st.permutations(list(range(sz))))[:k]
            sl = list(pos)
            sl.insert(d % len(shape), slice(None))
            moved[tuple(sl)] = perm
        if moved.size and self.draw(st.integers(0, 9)) == 0:
            moved.flat[0] = self.draw(st.sampled_from([sz, -1]))
        # (now and then without a dtype: an empty one is then float, which PyTorch accepts)
        dt = ", dtype=L.int64" if self.draw(st.integers(0, 4)) else ""
        if not nd:
            return f"L.tensor({int(moved.flat[0]) if moved.size else 0}{dt})"
        return f"L.tensor({moved.tolist()!r}{dt})"

    def index_src(self, index, src):
        """``src``, detached when ``index`` is not of its shape: PyTorch's ScatterBackward0 and
        ScatterAddBackward0 then give it a gradient of the index's shape, which its engine refuses."""
        try:
            same = tuple(self.t(index).shape) == tuple(self.t(src).shape)
        except Exception:  # noqa: BLE001 - an index or source that raises in both
            return src
        return src if same else f"({src}).detach()"

    def sp_scatter(self, a, ta):
        f = self.draw(st.sampled_from(SCATTERS), label="scatter op")
        nd = ta.dim()
        d = self.dim(nd)
        n = self.number()
        tgt = f"({a} * 1)" if f.endswith("_") else a
        if f in ("scatter", "scatter_", "scatter_value", "scatter_reduce_kw"):
            index = self.unique_index(ta, d)
            if self.draw(st.integers(0, 12)) == 0:
                index += ".int()"
            meth = "scatter_" if f == "scatter_" else "scatter"
            if f == "scatter_value":
                return f"{tgt}.scatter({d}, {index}, {n})"
            src = self.index_src(index, self.draw(st.sampled_from([f"{a} * 2", f"{self.operand(a)}",
                                                                         f"{a}.double()"])))
            if f == "scatter_reduce_kw":
                red = self.draw(st.sampled_from(["add", "multiply", "sum"]))
                return f"{tgt}.detach().scatter({d}, {index}, {src}, reduce={red!r})"
            return f"{tgt}.{meth}({d}, {index}, {src})"
        if f in ("scatter_add", "scatter_reduce", "gather"):
            index = self.index_along(ta, nd, d, 4)
            if self.draw(st.integers(0, 12)) == 0:
                index = self.draw(st.sampled_from([f"{index}.int()", "L.tensor([0])", "L.zeros(0, dtype=L.int64)"]))
            if f == "gather":
                return f"L.gather({a}, {d}, {index}, sparse_grad={self.draw(st.booleans())})"
            src = self.index_src(index, self.draw(st.sampled_from([f"{a} * 2", f"{self.operand(a)}",
                                                                         f"{a}.double()"])))
            if f == "scatter_add":
                return f"L.scatter_add({a}, {d}, {index}, {src})"
            red = self.draw(st.sampled_from(["sum", "prod", "mean", "amax", "amin", "max"]))
            return f"{a}.scatter_reduce({d}, {index}, {src}, {red!r}, include_self={self.draw(st.booleans())})"
        sz = (tuple(ta.shape)[d] if -nd <= d < nd else 1) if nd else 1
        if f in ("index_copy", "index_copy_"):
            # (distinct positions: of repeated ones PyTorch keeps any)
            idx = self.draw(st.permutations(list(range(sz))))[:self.draw(st.integers(0, sz))]
            if idx and self.draw(st.integers(0, 9)) == 0:
                idx[0] = sz
        else:
            idx = self.draw(st.lists(st.integers(-sz - 1, sz), min_size=0, max_size=3))
        index = f"L.tensor({idx!r}, dtype=L.{self.draw(st.sampled_from(['int64', 'int64', 'int64', 'int32']))})"
        if f in ("index_add", "index_add_", "index_copy", "index_copy_"):
            src = f"{a}.index_select({d}, {index}.long())" if nd else f"{a}.reshape(-1)[{index}.long()].sum()"
            if self.draw(st.integers(0, 3)) == 0:
                src = self.draw(st.sampled_from([f"{src}.double()", f"{src} * 3", f"{self.operand(a)}"]))
            if f.startswith("index_add"):
                return f"{tgt}.{f}({d}, {index}, {src}, alpha={n})"
            return f"{tgt}.{f}({d}, {index}, {src})"
        if f == "index_fill":
            # (a tensor of no element: PyTorch's kernel fails on its storage of size 0 for any index)
            if not ta.numel():
                index = "L.tensor([], dtype=L.int64)"
            val = self.draw(st.sampled_from([n, f"L.tensor({n})", f"{a}.sum()"]))
            if val == f"{a}.sum()" and (any(i < 0 for i in idx) or (not nd and len(idx) != 1)):
                # (PyTorch's backward for the value index_selects the gradient: a negative index, or a 0-d
                # tensor's index of other than one element, fails there)
                val = f"{a}.sum().detach()"
            return f"{a}.index_fill({d}, {index}, {val})"
        if f == "masked_scatter":
            mask = f"{self.pick()} > 0.5"
            src = self.draw(st.sampled_from([f"{a} * 3", f"{self.operand(a)}", f"L.ones(1, dtype={a}.dtype)"]))
            return f"{a}.masked_scatter({mask}, {src})"
        m = ta.numel()
        acc = self.draw(st.booleans())
        if acc:
            pos = self.draw(st.lists(st.integers(-m - 1, m), min_size=0, max_size=3))
        else:
            pos = self.draw(st.permutations(list(range(m))))[:self.draw(st.integers(0, min(m, 3)))]
        src = f"L.tensor({[float(n)] * len(pos)!r}, dtype={a}.dtype)"
        if pos and self.draw(st.booleans()):
            src = f"{a}.reshape(-1)[:{len(pos)}] * 2"
        return f"{a}.put(L.tensor({pos!r}, dtype=L.int64), {src}, accumulate={acc})"


def _run_program(data, mode):
    prog = SpatialProgram(data)
    try:
        prog.build(mode)
    except _KnownBugStop:
        pass
    finally:
        note("--- program ---\n" + prog.source())


# (no shrinking: a failure prints its whole program, and shrinking one takes minutes)
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=15)


@NO_SHRINK
@given(st.data())
def test_spatial_program_backward(data):
    _run_program(data, "backward")


@NO_SHRINK
@given(st.data())
def test_spatial_program_autograd_grad(data):
    _run_program(data, "grad")


@NO_SHRINK
@given(st.data())
def test_spatial_program_second_order(data):
    _run_program(data, "second")


@pytest.mark.parametrize("code", [code for code, *_ in FOUND_ERRORS] + [code for code, _ in FOUND_VALUES])
def test_found_case_matches_torch(code):
    """Each case the fuzzer found (tests/test_fuzz_spatial.py pins them torch-free) still agrees with PyTorch."""
    (kind_t, torch_out), (kind_p, tape_out) = _outcome(torch, code), _outcome(tape, code)
    assert kind_t == kind_p, f"torch {kind_t}: {torch_out!r}\ntape  {kind_p}: {tape_out!r}"
    if isinstance(torch_out, np.ndarray):
        np.testing.assert_allclose(tape_out, torch_out, rtol=1e-6)
    else:
        assert tape_out == torch_out


if __name__ == "__main__":
    fuzz_main(_run_program)
