"""Differential fuzzer over more of the catalogue: nn.functional activations, losses and normalizations,
linear algebra on well-conditioned matrices, bool and empty tensors, and PyTorch's whole error messages.

It extends the random-program interpreter of ``tests/test_random_programs.py`` (its core and catalogue steps
stay in the mix): every line runs with ``L = torch`` and ``L = tape`` and every new tensor is compared (shape,
dtype, requires_grad, is_leaf, grad_fn name, values), then ``.grad`` of leaves, ``autograd.grad`` and second
derivatives.  Here an error must agree in type and in its whole message.

CI runs a few programs per mode.  A larger local run draws fresh programs over a range of seeds and prints
each distinct failure once, as a program to paste::

    python tests/test_fuzz_catalogue_torch.py 0 100 [backward|grad|second]   # 25 programs a seed and mode
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
from tests.test_fuzz_catalogue import ERRORS as FOUND_ERRORS, VALUES as FOUND_VALUES  # noqa: E402
from tests._fuzz_seeds import main as fuzz_main  # noqa: E402
from tests.test_random_programs import FLOATS, Program, _KnownBugStop  # noqa: E402

P_NORMS = ["2.0", "1.0", "0.5", "float('inf')"]
REDUCTIONS = ["'mean'", "'mean'", "'sum'", "'none'", "'avg'"]
ACTIVATIONS = ["relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign", "tanhshrink",
               "softshrink", "hardshrink", "hardtanh", "hardsigmoid", "hardswish", "leaky_relu", "logsigmoid",
               "sigmoid", "tanh", "threshold", "glu", "softmax", "softmin", "log_softmax", "normalize", "prelu",
               "rrelu", "relu_", "elu_", "leaky_relu_", "hardtanh_", "celu_", "selu_", "threshold_"]
INPLACE_KW = ("relu", "relu6", "elu", "selu", "celu", "silu", "mish", "hardtanh", "hardsigmoid", "hardswish",
              "leaky_relu", "threshold", "rrelu")
LOSSES = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
          "binary_cross_entropy_with_logits", "kl_div", "soft_margin_loss", "poisson_nll_loss", "gaussian_nll_loss",
          "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss", "nll_loss", "cross_entropy",
          "multi_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "triplet_margin_loss"]
NORMS = ["layer_norm", "group_norm", "batch_norm", "instance_norm", "rms_norm", "local_response_norm"]
LINALG = ["det", "slogdet", "logdet", "inv", "inv_ex", "inverse", "solve", "solve_ex", "cholesky", "cholesky_ex",
          "qr", "eigvalsh", "eigh", "svdvals", "svd", "matrix_norm", "cond", "pinv", "matrix_exp", "matrix_power",
          "matrix_rank", "lu_factor", "lu", "lu_solve", "solve_triangular", "cholesky_solve", "cholesky_inverse",
          "lstsq", "multi_dot", "vecdot", "norm", "singular", "not_pd", "not_square"]


def _err_key(e: Exception):
    # (torch.linalg.LinAlgError's class is torch._C._LinAlgError; a message PyTorch wraps may carry its C++
    # backtrace, which is no part of the message)
    return type(e).__name__.lstrip("_"), str(e).split("\nException raised from ")[0]


class CatalogueProgram(Program):
    err_key = staticmethod(_err_key)

    def leaves_step(self):
        self.run("F = L.nn.functional")
        super().leaves_step()
        for _ in range(self.draw(st.integers(0, 1), label="n_odd_leaves")):
            name = self.fresh()
            if self.draw(st.booleans()):
                n = self.draw(st.integers(0, 4))
                shape = (n,) if n != 4 else ()
                vals = self.draw(st.lists(st.booleans(), min_size=max(n, 1), max_size=max(n, 1)))
                line = f"{name} = L.tensor({vals if shape else vals[0]!r})"
            else:
                shape = self.draw(st.sampled_from([(0,), (2, 0), (0, 3), (1, 0, 2)]))
                dt = self.draw(st.sampled_from(["float32", "float64", "int64"]))
                rg = ", requires_grad=True" if dt != "int64" and self.draw(st.booleans()) else ""
                line = f"{name} = L.zeros({shape!r}, dtype=L.{dt}{rg})"
            self.run(line, name)
            self.leaves.append(name)

    def step(self):
        group = self.draw(st.sampled_from(["core", "core", "activation", "activation", "loss", "loss", "norm",
                                           "linalg", "linalg"]), label="group")
        if group == "core":
            super().step()
            return
        a = self.pick()
        ta = self.t(a)
        self.after = []
        expr = getattr(self, f"nn_{group}")(a, ta)
        name = self.fresh()
        line = f"{name} = {expr}"
        if self.no_grad_left:
            line = f"with L.no_grad(): {line}"
        if self.run(line, name, check=self.after) and self.after:
            self.check_all(f"after {line!r}")

    # ---- helpers ----
    def param(self, shape, dtype, requires_grad=True, pooled=True):
        """A new named leaf (a weight, a bias, a running statistic): its ``.grad`` is compared too; one not
        ``pooled`` is compared after the step only, and no later step changes it."""
        name = self.fresh()
        self.run(f"{name} = {self.literal(tuple(shape), dtype, requires_grad)}", name if pooled else None,
                 check=() if pooled else (name,))
        if pooled:
            self.leaves.append(name)
        return name

    def weight(self, shape, dtype):
        """A norm's weight or bias.  (Not requiring grad in the second-order programs: PyTorch's double
        backward of the norms makes the weight's gradient require grad, though it does not depend on it;
        tape's does not.)"""
        return self.param(shape, dtype, self.mode != "second")

    def fdtype(self, ta):
        return str(ta.dtype).rsplit(".", 1)[-1] if ta.is_floating_point() else "float32"

    def small(self):
        return repr(self.draw(st.sampled_from([0.5, 1.0, 2.0, 0.0, 0.1])))

    def class_target(self, shape, c):
        """int64 class indices in ``[0, c)``, now and then one out of range (an error in both)."""
        hi = c if self.draw(st.integers(0, 7)) == 0 else max(c - 1, 0)
        n = math.prod(shape)
        vals = self.draw(st.lists(st.integers(0, hi), min_size=n, max_size=n))
        arr = np.array(vals, dtype=np.int64).reshape(shape)
        return f"L.tensor({arr.tolist()!r})"

    def signs(self, shape):
        n = math.prod(shape)
        vals = self.draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=n, max_size=n))
        return f"L.tensor({np.array(vals).reshape(shape).tolist()!r})"

    # ---- nn.functional activations ----
    def nn_activation(self, a, ta):
        f = self.draw(st.sampled_from(ACTIVATIONS), label="activation")
        nd = ta.dim()
        args = {"elu": f", alpha={self.small()}", "celu": f", alpha={self.small()}",
                "gelu": f", approximate={self.draw(st.sampled_from(['none', 'tanh', 'tan']))!r}",
                "softplus": f", beta={self.small()}, threshold={self.draw(st.sampled_from([20, 1]))}",
                "softshrink": f", {self.draw(st.sampled_from([0.5, 0.0, 1.0, -1.0]))}",
                "hardshrink": f", {self.draw(st.sampled_from([0.5, 0.0, 1.5]))}",
                "leaky_relu": f", {self.draw(st.sampled_from([0.01, 0.2, -0.5]))}",
                "threshold": f", {self.draw(st.sampled_from(FLOATS))}, {self.draw(st.sampled_from(FLOATS))}",
                "glu": f", {self.dim(nd)}", "softmax": f", {self.dim(nd)}", "softmin": f", {self.dim(nd)}",
                "log_softmax": f", {self.dim(nd)}",
                "normalize": f", {self.draw(st.sampled_from(P_NORMS))}, {self.dim(nd)}",
                "rrelu": ", 0.1, 0.3, training=False"}
        if f == "hardtanh":
            lo, hi = sorted(self.draw(st.lists(st.sampled_from(FLOATS), min_size=2, max_size=2)))
            if self.draw(st.integers(0, 5)) == 0:
                lo, hi = hi, lo
            args[f] = f", {lo}, {hi}"
        if f in ("softmax", "softmin", "log_softmax") and self.draw(st.booleans()):
            args[f] += f", dtype=L.{self.draw(st.sampled_from(['float64', 'float32']))}"
        if f == "prelu":
            c = ta.shape[1] if nd >= 2 else 1
            c = self.draw(st.sampled_from([1, c, c, c + 1]))
            return f"F.prelu({a}, {self.param((c,), self.fdtype(ta))})"
        base = f.rstrip("_")
        if f.endswith("_") or (base in INPLACE_KW and self.draw(st.integers(0, 2)) == 0):
            # in place: on a copy, or (now and then) on the tensor itself, whose views and base then change
            target = a if self.draw(st.integers(0, 3)) == 0 else f"({a} * 1)"
            if target == a:
                self.after.append(a)
            tail = "" if f.endswith("_") else ", inplace=True"
            return f"F.{f}({target}{args.get(base, '')}{tail})"
        return f"F.{f}({a}{args.get(f, '')})"

    # ---- nn.functional losses ----
    def nn_loss(self, a, ta):
        f = self.draw(st.sampled_from(LOSSES), label="loss")
        red = f"reduction={self.draw(st.sampled_from(REDUCTIONS))}"
        shape = tuple(ta.shape)
        nd = len(shape)
        dt = self.fdtype(ta)
        if f in ("mse_loss", "l1_loss", "soft_margin_loss", "multilabel_soft_margin_loss"):
            return f"F.{f}({a}, {self.operand(a)}, {red})"
        if f == "smooth_l1_loss":
            return f"F.smooth_l1_loss({a}, {self.operand(a)}, {red}, beta={self.small()})"
        if f == "huber_loss":
            # (a target of another dtype: PyTorch's backward refuses it, tape's does not)
            tgt = f"{self.operand(a)}.to({a}.dtype)"
            return f"F.huber_loss({a}, {tgt}, {red}, delta={self.draw(st.sampled_from([1.0, 0.5, 2.0]))})"
        if f == "binary_cross_entropy":
            w = f", weight={self.operand(a)}" if self.draw(st.booleans()) else ""
            return f"F.binary_cross_entropy({a}.sigmoid(), {self.operand(a)}.sigmoid(){w}, {red})"
        if f == "binary_cross_entropy_with_logits":
            w = f", weight={self.operand(a)}" if self.draw(st.booleans()) else ""
            pw = f", pos_weight={self.operand(a)}.abs()" if self.draw(st.booleans()) else ""
            return f"F.binary_cross_entropy_with_logits({a}, {self.operand(a)}.sigmoid(){w}{pw}, {red})"
        if f == "kl_div":
            r = self.draw(st.sampled_from(REDUCTIONS + ["'batchmean'"]))
            lt = self.draw(st.booleans())
            tgt = self.operand(a) + (".log_softmax(-1)" if lt else ".softmax(-1)")
            return f"F.kl_div({a}.log_softmax(-1), {tgt}, reduction={r}, log_target={lt})"
        if f == "poisson_nll_loss":
            li, full = self.draw(st.booleans()), self.draw(st.booleans())
            x = a if li else f"{a}.abs()"
            return f"F.poisson_nll_loss({x}, {self.operand(a)}.abs(), log_input={li}, full={full}, {red})"
        if f == "gaussian_nll_loss":
            vshape = self.draw(st.sampled_from([shape, shape[:-1] + (1,) if nd else (1,), shape[:-1] if nd else ()]))
            var = f"{self.param(vshape, dt)}.abs() + 0.5"
            return f"F.gaussian_nll_loss({a}, {self.operand(a)}, {var}, full={self.draw(st.booleans())}, {red})"
        if f == "margin_ranking_loss":
            return f"F.margin_ranking_loss({a}, {self.operand(a)}, {self.signs(shape)}, margin={self.small()}, {red})"
        if f == "hinge_embedding_loss":
            return f"F.hinge_embedding_loss({a}, {self.signs(shape)}, margin={self.small()}, {red})"
        if f == "cosine_embedding_loss":
            n = shape[0] if nd == 2 else 1
            y = self.signs((n,) if nd == 2 else ())
            return f"F.cosine_embedding_loss({a}, {self.operand(a)}, {y}, margin={self.small()}, {red})"
        if f == "triplet_margin_loss":
            p = self.draw(st.sampled_from([2.0, 1.0]))
            return (f"F.triplet_margin_loss({a}, {self.operand(a)}, {self.operand(a)}, margin={self.small()}, p={p}, "
                    f"swap={self.draw(st.booleans())}, {red})")
        # class-index losses: input (C,), (N, C) or (N, C, d)
        c = shape[1] if nd >= 2 else (shape[0] if nd else 1)
        tshape = (shape[0],) + shape[2:] if nd >= 2 else ()
        if f == "multilabel_margin_loss":
            k = self.draw(st.integers(0, 3))
            vals = self.draw(st.lists(st.integers(-1, c - 1), min_size=math.prod(shape), max_size=math.prod(shape)))
            tgt = f"L.tensor({np.array(vals, dtype=np.int64).reshape(shape).tolist()!r})" if k else \
                self.class_target(shape, c)
            return f"F.multilabel_margin_loss({a}, {tgt}, {red})"
        tgt = self.class_target(tshape, c)
        w = f", weight={self.param((c,), dt, False)}.abs()" if self.draw(st.integers(0, 2)) == 0 else ""
        if f == "multi_margin_loss":
            return (f"F.multi_margin_loss({a}, {tgt}, p={self.draw(st.sampled_from([1, 2]))}, "
                    f"margin={self.small()}{w}, {red})")
        ii = f", ignore_index={self.draw(st.sampled_from([0, 1, -100]))}" if self.draw(st.booleans()) else ""
        if f == "nll_loss":
            return f"F.nll_loss({a}.log_softmax({1 if nd >= 2 else 0}), {tgt}{w}{ii}, {red})"
        ls = f", label_smoothing={self.draw(st.sampled_from([0.0, 0.1, 0.5]))}" if self.draw(st.booleans()) else ""
        if self.draw(st.integers(0, 2)) == 0:      # class probabilities
            tgt = f"{self.operand(a)}.softmax({1 if nd >= 2 else 0})"
            ii = ""
        return f"F.cross_entropy({a}, {tgt}{w}{ii}{ls}, {red})"

    # ---- nn.functional normalizations ----
    def nn_norm(self, a, ta):
        f = self.draw(st.sampled_from(NORMS), label="norm")
        shape = tuple(ta.shape)
        nd = len(shape)
        dt = self.fdtype(ta)
        # (a small eps over equal values multiplies float32 rounding, PyTorch's and tape's, past any tolerance)
        eps = f", eps={self.draw(st.sampled_from([0.5, 0.1]))}"
        c = shape[1] if nd >= 2 else 1
        if f in ("layer_norm", "rms_norm"):
            k = self.draw(st.integers(0, nd)) if nd else 0
            ns = shape[nd - k:]
            if self.draw(st.integers(0, 5)) == 0:
                ns = ns[:-1] + (ns[-1] + 1,) if ns else (2,)
            w = f", {self.weight(ns, dt)}" if self.draw(st.booleans()) else ", None"
            b = f", {self.weight(ns, dt)}" if f == "layer_norm" and self.draw(st.booleans()) else ""
            return f"F.{f}({a}, {ns!r}{w}{b}{eps})"
        if f == "local_response_norm":
            return (f"F.local_response_norm({a}, {self.draw(st.integers(1, 3))}, alpha={self.small()}, "
                    f"beta={self.draw(st.sampled_from([0.75, 1.0]))}, k={self.draw(st.sampled_from([1.0, 2.0]))})")
        w = f", weight={self.weight((c,), dt)}" if self.draw(st.booleans()) else ""
        b = f", bias={self.weight((c,), dt)}" if self.draw(st.booleans()) else ""
        if f == "group_norm":
            g = self.draw(st.sampled_from([1, c, 2, 3]))
            return f"F.group_norm({a}, {g}{w}{b}{eps})"
        if f == "batch_norm" and nd < 2:
            # (PyTorch reads the channel count of a 0-d or 1-d input past its sizes: what it does is undefined)
            a = self.param((2, c) + shape[1:], dt)
        stats = self.draw(st.booleans())
        rm = rv = "None"
        if stats:
            # (outside the pool: PyTorch's batch norm saves them, and a later in-place change of one fails its
            # backward; tape's does not save them)
            rm, rv = self.param((c,), dt, False, False), self.param((c,), dt, False, False)
            rv = f"{rv}.abs_()"
            self.after += [rm, rv.split(".")[0]]
        mom = f", momentum={self.draw(st.sampled_from([0.1, 0.5, 'None']))}"
        if f == "instance_norm":
            return (f"F.instance_norm({a}, {rm}, {rv}{w}{b}, use_input_stats={self.draw(st.booleans())}"
                    f"{mom}{eps})")
        return f"F.batch_norm({a}, {rm}, {rv}{w}{b}, training={self.draw(st.booleans())}{mom}{eps})"

    # ---- linear algebra ----
    def matrix(self, a, ta, spd=True):
        """A well-conditioned square matrix (a batch of them) built from ``a`` or from a new leaf."""
        shape = tuple(ta.shape)
        if len(shape) >= 2 and shape[-1] == shape[-2] and ta.is_floating_point():
            base = a
        else:
            n = self.draw(st.integers(1, 3))
            base = self.param((self.draw(st.integers(1, 2)),) * self.draw(st.integers(0, 1)) + (n, n), self.fdtype(ta),
                              self.draw(st.integers(0, 3)) > 0)
        n = self.t(base).shape[-1]
        eye = f"L.eye({n}, dtype={base}.dtype)"
        if spd:      # eigenvalues in [1, 1 + n * 9 / 4]
            return f"({base} @ {base}.mT * 0.25 + {eye})"
        return f"({base} * 0.1 + 2 * {eye})"    # diagonally dominant

    def rhs(self, m):
        n = self.t(m).shape[-1]
        k = self.draw(st.sampled_from([1, 2, n + 1]))
        shape = (n, k) if self.draw(st.integers(0, 3)) else (n,)
        return self.param(shape, str(self.t(m).dtype).rsplit(".", 1)[-1], self.draw(st.booleans()))

    def nn_linalg(self, a, ta):
        f = self.draw(st.sampled_from(LINALG), label="linalg")
        if f == "not_square":
            g = self.draw(st.sampled_from(["det", "inv", "cholesky", "eigvalsh", "slogdet", "solve", "matrix_exp"]))
            return f"L.linalg.{g}({a}{', ' + a if g == 'solve' else ''})"
        if f == "singular":
            n = self.draw(st.integers(1, 3))
            g = self.draw(st.sampled_from(["inv", "solve", "cholesky", "inv_ex", "lu_factor"]))
            m = f"L.zeros({n}, {n}, dtype={self.draw(st.sampled_from(['L.float32', 'L.float64']))})"
            if g == "solve":
                return f"L.linalg.solve({m}, L.ones({n}, dtype={m}.dtype))"
            return f"L.linalg.{g}({m})"
        spd = f in ("cholesky", "cholesky_ex", "eigvalsh", "eigh", "cholesky_solve", "cholesky_inverse", "logdet",
                    "not_pd") or self.draw(st.booleans())
        m = self.matrix(a, ta, spd)
        name = self.fresh()
        self.run(f"{name} = {m}", name)
        m = name
        if f == "not_pd":
            return f"L.linalg.cholesky(-{m})"
        if f in ("det", "slogdet", "inv", "inv_ex", "cholesky", "cholesky_ex", "eigvalsh", "svdvals", "pinv",
                 "matrix_exp", "multi_dot", "lu_factor", "lu"):
            if f == "multi_dot":
                return f"L.linalg.multi_dot([{m}, {m}, {m}])" if self.t(m).dim() == 2 else \
                    f"L.linalg.multi_dot([{m}, {m}])"
            if f in ("lu_factor", "lu") and self.draw(st.booleans()):
                return f"L.linalg.{f}({m}, pivot=False)"
            return f"L.linalg.{f}({m})"
        if f in ("logdet", "inverse"):
            return f"L.{f}({m})"
        if f == "eigh":
            return f"L.linalg.eigh({m}, UPLO={self.draw(st.sampled_from(['L', 'U']))!r}).eigenvalues"
        if f == "svd":
            return f"L.linalg.svd({m}, full_matrices={self.draw(st.booleans())}).S"
        if f == "qr":
            return f"L.linalg.qr({m}, mode={self.draw(st.sampled_from(['reduced', 'complete', 'r', 'full']))!r})"
        if f in ("solve", "solve_ex", "lstsq"):
            b = self.rhs(m)
            left = self.draw(st.booleans()) if f != "lstsq" else True
            if f == "lstsq":
                return f"L.linalg.lstsq({m}, {b}).solution"
            return f"L.linalg.{f}({m}, {b}, left={left})"
        if f == "matrix_norm":
            o = self.draw(st.sampled_from(["'fro'", "'nuc'", "1", "-1", "2", "-2", "float('inf')", "3"]))
            return f"L.linalg.matrix_norm({m}, ord={o}, keepdim={self.draw(st.booleans())})"
        if f == "norm":
            o = self.draw(st.sampled_from(["None", "'fro'", "'nuc'", "1", "2"]))
            return f"L.linalg.norm({m}, ord={o})"
        if f == "cond":
            return f"L.linalg.cond({m}, p={self.draw(st.sampled_from(['None', 'fro', 1, 2, 'nuc']))!r})"
        if f == "matrix_power":
            return f"L.linalg.matrix_power({m}, {self.draw(st.integers(-2, 3))})"
        if f == "matrix_rank":
            return f"L.linalg.matrix_rank({m}, hermitian={self.draw(st.booleans())})"
        if f == "lu_solve":
            lu = self.fresh()
            self.run(f"{lu} = L.linalg.lu_factor({m})", lu)
            return f"L.linalg.lu_solve({lu}[0], {lu}[1], {self.rhs(m)})"
        if f == "solve_triangular":
            up = self.draw(st.booleans())
            return (f"L.linalg.solve_triangular({m}, {self.rhs(m)}, upper={up}, left={self.draw(st.booleans())}, "
                    f"unitriangular={self.draw(st.booleans())})")
        if f in ("cholesky_solve", "cholesky_inverse"):
            up = self.draw(st.booleans())
            ch = f"L.linalg.cholesky({m}, upper={up})"
            if f == "cholesky_inverse":
                return f"L.cholesky_inverse({ch}, upper={up})"
            return f"L.cholesky_solve({self.rhs(m)}, {ch}, upper={up})"
        return f"L.linalg.vecdot({m}, {self.operand(m)}, dim={self.dim(self.t(m).dim())})"


def _run_program(data, mode):
    prog = CatalogueProgram(data)
    try:
        prog.build(mode)
    except _KnownBugStop:
        pass
    finally:
        note("--- program ---\n" + prog.source())


# (no shrinking: a failure prints its whole program, and shrinking one takes minutes)
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate))


@NO_SHRINK
@given(st.data())
def test_catalogue_program_backward(data):
    _run_program(data, "backward")


@NO_SHRINK
@given(st.data())
def test_catalogue_program_autograd_grad(data):
    _run_program(data, "grad")


@NO_SHRINK
@given(st.data())
def test_catalogue_program_second_order(data):
    _run_program(data, "second")


def _outcome(lib, code):
    ns = {"L": lib, "F": lib.nn.functional, "np": np}
    try:
        got = eval(code, ns)
    except Exception as e:  # noqa: BLE001 - compared
        return type(e).__name__.lstrip("_"), str(e)
    if isinstance(got, (float, list)):
        return "value", np.asarray(got, dtype=float)
    return "value", repr(got).replace("tape.", "torch.")


@pytest.mark.parametrize("code", [code for code, *_ in FOUND_ERRORS] + [code for code, _ in FOUND_VALUES])
def test_found_case_matches_torch(code):
    """Each case the fuzzer found (tests/test_fuzz_catalogue.py pins them torch-free) still agrees with PyTorch."""
    (kind_t, torch_out), (kind_p, tape_out) = _outcome(torch, code), _outcome(tape, code)
    assert kind_t == kind_p, f"torch {kind_t}: {torch_out!r}\ntape  {kind_p}: {tape_out!r}"
    if isinstance(torch_out, np.ndarray):
        np.testing.assert_allclose(tape_out, torch_out, rtol=1e-6)
    else:
        assert tape_out == torch_out


if __name__ == "__main__":
    fuzz_main(_run_program)
