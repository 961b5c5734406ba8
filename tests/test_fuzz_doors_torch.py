"""Differential fuzzer over the doors through which people extend autograd: custom ``autograd.Function``
classes (old-style and ``setup_context``, saved inputs, outputs and intermediates, ``mark_dirty``,
``mark_non_differentiable``, ``set_materialize_grads(False)``, several and non-tensor outputs,
``once_differentiable``, a ``backward`` returning wrong shapes, counts or None), tensor hooks (returning
None or a new gradient, on leaves and non-leaves, removed handles), ``retain_grad``, post-accumulate-grad
hooks, node hooks and pre-hooks, ``utils.checkpoint`` (reentrant or not, nested, with hooks inside),
``saved_tensors_hooks`` and anomaly mode around backward, and ``backward``/``autograd.grad`` with their
options (``retain_graph``, ``create_graph``, ``allow_unused``, ``grad_outputs``, ``inputs``).

The random-program interpreter of ``tests/test_random_programs.py`` runs every line with ``L = torch`` and
``L = tape`` and compares every new tensor (shape, dtype, requires_grad, is_leaf, grad_fn name, values),
then ``.grad`` of leaves and retained tensors; here also the log the hooks and Functions write (which hook
ran, in which order, on which gradient) and the calls of the pack/unpack hooks, and an error must agree in
type and in the first 60 characters of its message.  A failing example prints its program, with the
definitions it uses (the Function classes and hook makers of ``PRELUDE``), ready to paste.

CI runs a few programs per mode (``TAPE_FUZZ_DOORS_N`` sets how many).  A larger local run draws fresh
programs over a range of seeds and prints each distinct failure once::

    python tests/test_fuzz_doors_torch.py 0 100 [backward|grad|second]   # 25 programs a seed and mode
"""

from __future__ import annotations

import os
import re
import sys
import warnings

import pytest
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import tape  # noqa: E402

if __name__ == "__main__":        # run as a script: the checkout's tests package
    sys.path.insert(0, __file__.rsplit("/tests/", 1)[0])
from tests._fuzz_seeds import main as fuzz_main  # noqa: E402
from tests.test_random_programs import Mismatch, Program, _KnownBugStop, compare_tensor  # noqa: E402
from tests.test_fuzz_doors import CASES as FOUND_CASES, DEPENDS, PRELUDE, SNIPPETS, outcome, same  # noqa: E402

N_EXAMPLES = int(os.environ.get("TAPE_FUZZ_DOORS_N", "8"))

FUNCTIONS = ["Sq", "ExpOut", "SinK", "TwoOut", "Needs", "Scale_", "MaxIdx", "NoMat", "Mat", "Once", "Bad", "Alias",
             "WithInt"]
BAD_HOWS = ["expand", "flat", "sum", "double", "float", "more", "more_tensor", "fewer", "none", "list", "nontensor",
            "ok"]
# the elementwise steps a checkpointed segment is made of
# (sin and cos of bounded values: of a big float32 one, a last-bit difference of their argument shows through)
SEGMENT_OPS = [".sigmoid().sin()", ".tanh().exp()", ".tanh()", " * 2", ".sigmoid()", " * {y}", " + {y}", " * {c}", ".relu()",
               ".pow(2)", ".tanh().cos()"]


def _err_key(e: Exception):
    msg = str(e).replace("tape.", "torch.").split("\nException raised from ")[0]
    return type(e).__name__.lstrip("_"), msg[:60]


def compare_log(lt, lp, what):
    """The log entries of the two libraries: tags and flags equal, tensors as ``compare_tensor`` has them."""
    if isinstance(lt, torch.Tensor) or isinstance(lp, tape.Tensor):
        compare_tensor(lt, lp, what, check_graph=False, strict_nonfinite=False, loose=True)
        return
    if isinstance(lt, (tuple, list)):
        if not isinstance(lp, (tuple, list)) or len(lt) != len(lp):
            raise Mismatch(f"{what}: torch {lt!r}\n tape {lp!r}")
        for i, (a, b) in enumerate(zip(lt, lp)):
            compare_log(a, b, f"{what}[{i}]")
        return
    if lt != lp:
        raise Mismatch(f"{what}: torch {lt!r} vs tape {lp!r}")


class DoorsProgram(Program):
    err_key = staticmethod(_err_key)

    def __init__(self, data):
        super().__init__(data)
        exec(PRELUDE, self.tns)
        exec(PRELUDE, self.pns)
        self.hooks: list[str] = []          # handles of hooks not removed yet
        self.cp_out: set[str] = set()       # outputs of checkpointed segments
        self.cp_nested: set[str] = set()    # ... of segments with a checkpoint inside
        self.node_hooked = False
        self.logged = 0

    def source(self):
        body = "\n".join(self.lines)
        used, todo = [], [k for k, src in SNIPPETS.items()
                          if any(re.search(rf"\b{name}\b", body) for name in re.findall(r"^(?:def|class) (\w+)", src, re.M))]
        while todo:
            k = todo.pop(0)
            if k not in used:
                used.append(k)
                todo += DEPENDS.get(k, [])
        defs = "".join(SNIPPETS[k] for k in SNIPPETS if k in used)
        return f"{defs}\n{body}" if defs else body

    def run(self, line, new_name=None, check=(), check_graph=True, strict_nonfinite=True):
        ok = super().run(line, new_name, check, check_graph, strict_nonfinite)
        self.check_log(f"after line {line!r}")
        return ok

    def loose(self):
        # (float32 values flow into float64 ones through Functions and segments whatever the literals say)
        return True

    def check_log(self, when):
        lt, lp = self.tns["log"], self.pns["log"]
        try:
            if len(lt) != len(lp):
                raise Mismatch(f"log: torch has {len(lt)} entries {lt[self.logged:]!r}\n"
                               f" tape has {len(lp)} {lp[self.logged:]!r}")
            for i in range(self.logged, len(lt)):
                compare_log(lt[i], lp[i], f"log[{i}]")
            if self.tns["cnt"] != self.pns["cnt"]:
                raise Mismatch(f"pack/unpack calls: torch {self.tns['cnt']} vs tape {self.pns['cnt']}")
        except Mismatch as m:
            self.fail(f"{when}: {m}")
        self.logged = len(lt)

    # ---- the program ----
    def step(self):
        kind = self.draw(st.sampled_from(
            ["core", "core", "core", "core", "function", "function", "function", "hook", "hook", "node_hook",
             "remove", "post_hook", "checkpoint", "checkpoint", "saved_hooks", "retain_grad"]), label="doors step")
        if kind == "core":
            super().step()
            return
        if kind == "retain_grad":
            e = self.pick()
            if self.mode == "second" and e in self.cp_out:
                return      # (as a hook: PyTorch's second backward reaches a segment's output again, tape's not)
            self.retained.append(e)
            self.run(f"{e}.retain_grad()")
            return
        if kind in ("hook", "node_hook", "post_hook", "remove"):
            getattr(self, f"d_{kind}")()
            return
        a = self.pick()
        ta = self.t(a)
        expr = getattr(self, f"d_{kind}")(a, ta)
        if expr is None:
            return
        if isinstance(expr, tuple):
            expr, wrap = expr
        else:
            wrap = None
        name = self.fresh()
        line = f"{name} = {expr}"
        if wrap:
            line = f"{wrap}: {line}"
        elif self.no_grad_left:
            line = f"with L.no_grad(): {line}"
        if self.run(line, name) and kind == "checkpoint":     # (a segment that raised defines no output)
            self.cp_out.add(name)
            if expr.count("checkpoint(") > 1:
                self.cp_nested.add(name)

    def fn_arg(self, a, ta):
        """``a``, now and then a fresh non-leaf of it (an in-place Function needs one) or a float of it."""
        k = self.draw(st.integers(0, 5))
        if k == 0:
            return f"({a} * 1)"
        if k == 1 and not ta.is_floating_point():
            return f"{a}.float()"
        return a

    def d_function(self, a, ta):
        f = self.draw(st.sampled_from(FUNCTIONS), label="function")
        x = self.fn_arg(a, ta)
        if f in ("Sq", "ExpOut", "Once"):
            return f"{f}.apply({x})"
        if f == "SinK":
            return f"SinK.apply({x}, {self.draw(st.sampled_from([2.0, -1, 0.5]))!r})"
        if f in ("TwoOut", "Needs"):
            b = self.operand(a)
            if self.draw(st.booleans()):
                x, b = b, x
            return f"{f}.apply({x}, {b})"
        if f == "Scale_":
            # (on a new tensor: one a checkpointed segment read is then changed, which tape's segment refuses
            # at its backward whether or not PyTorch's ops saved it)
            return f"Scale_.apply(({a} * 1), {self.draw(st.sampled_from([2.0, -1.0, 0.5]))!r})"
        if f == "MaxIdx":
            return f"MaxIdx.apply({x}){self.draw(st.sampled_from(['', '[0]', '[1]']))}"
        if f in ("NoMat", "Mat"):
            return f"{f}.apply({x}){self.draw(st.sampled_from(['', '[0]', '[1]']))}"
        if f == "Bad":
            return f"Bad.apply({x}, {self.draw(st.sampled_from(BAD_HOWS))!r})"
        if f == "Alias":
            # (not 'detach': PyTorch's output then shares the input's storage, tape's is a copy)
            return f"Alias.apply({x}, {self.draw(st.sampled_from(['same', 'view']))!r})"
        # (its int output is compared through the log its backward writes)
        return f"WithInt.apply({x})[0]"

    def d_hook(self):
        # (in a second-order program not on a segment's output: PyTorch's second backward reaches it again
        # through the values the segment saved, tape's does not)
        e = self.pick(lambda t: self.mode != "second" or not any(self.t(c) is t for c in self.cp_out))
        if self.mode == "second" and e in self.cp_out:
            return
        tag = f"h{self.counter}"
        name = self.fresh()
        fn = f"rec({tag!r})" if self.draw(st.booleans()) else f"scl({tag!r}, {self.draw(st.sampled_from([2.0, -1.0, 0.5]))!r})"
        if self.run(f"{name} = {e}.register_hook({fn})"):
            self.hooks.append(name)

    def d_node_hook(self):
        # (not on the node of a nested segment's output: tape's recomputation makes the inner segment anew,
        # without the hooks of the forward's)
        # (nor, in a second-order program, of any segment's output: tape's recorded gradient of a segment runs
        # it again, with its nodes' hooks)
        cands = [e for e in self.pool if self.t(e).grad_fn is not None and e not in self.cp_nested
                 and (self.mode != "second" or e not in self.cp_out)]
        if not cands:
            return
        e = self.draw(st.sampled_from(cands))
        tag = f"n{self.counter}"
        name = self.fresh()
        k = self.draw(st.sampled_from([None, None, 2.0, -1.0]))
        if self.draw(st.booleans()):
            line = f"{name} = {e}.grad_fn.register_hook(nhook({tag!r}, {k!r}))"
        else:
            line = f"{name} = {e}.grad_fn.register_prehook(npre({tag!r}, {k!r}))"
        if self.run(line):
            self.hooks.append(name)
            self.node_hooked = True

    def d_post_hook(self):
        e = self.pick()
        tag = f"p{self.counter}"
        name = self.fresh()
        if self.run(f"{name} = {e}.register_post_accumulate_grad_hook(post({tag!r}))"):
            self.hooks.append(name)

    def d_remove(self):
        if not self.hooks:
            return
        h = self.draw(st.sampled_from(self.hooks))
        self.hooks.remove(h)
        self.run(f"{h}.remove()")

    def segment(self, arity, depth=0, reentrant=False):
        """A lambda of ``arity`` tensors made of a few elementwise steps (over a closure tensor now and then),
        now and then with a hook inside or a nested checkpoint.  (In a reentrant segment, a closure tensor
        needs no grad: PyTorch's backward inside the backward runs through its graph outside, and frees it.)"""
        params = ["x", "y"][:arity]
        body = "x"
        for _ in range(self.draw(st.integers(1, 4))):
            op = self.draw(st.sampled_from(SEGMENT_OPS))
            if op == ".tanh().exp()" and (depth or ".exp()" in body):
                # (exp of exp in float32: a last-bit difference of the inner one shows through)
                op = ".tanh()"
            if "{y}" in op:
                if arity < 2:
                    continue
                op = op.format(y="y")
            elif "{c}" in op:
                c = self.pick(lambda t: t.dim() == 0 and t.is_floating_point() and not (reentrant and t.requires_grad))
                if self.t(c).dim() or (reentrant and self.t(c).requires_grad):
                    continue
                op = op.format(c=c)
            body = f"({body}{op})"
            k = self.draw(st.integers(0, 7))
            if k == 0 and self.mode != "second":
                # (not in a recorded backward: tape's gradient of a segment runs it again, hooks and all,
                # where PyTorch's second order goes through the graph its first backward recorded)
                body = f"hk({body}, 'c{self.counter}_{len(body)}')"
            elif k == 1 and depth < 1:
                inner_reentrant = self.draw(st.booleans())
                inner = self.segment(1, depth + 1, reentrant or inner_reentrant)
                body = f"L.utils.checkpoint.checkpoint({inner}, {body}, use_reentrant={inner_reentrant})"
        if self.draw(st.integers(0, 3)) == 0:
            body = f"{body}.sum()"
        elif body.startswith("hk("):
            # (a segment's output is a new tensor in tape: a hook registered inside on the output itself
            # runs only when the segment's backward does)
            body = f"{body} * 1"
        return f"lambda {', '.join(params)}: {body}"

    def d_checkpoint(self, a, ta):
        arity = self.draw(st.integers(1, 2))
        args = [a]
        if arity == 2:
            b = self.pick(lambda t: t.shape == ta.shape) if self.draw(st.integers(0, 3)) else self.operand(a)
            args.append(b)
        reent = self.draw(st.sampled_from(["False", "False", "True"]))
        return (f"L.utils.checkpoint.checkpoint({self.segment(arity, 0, reent == 'True')}, {', '.join(args)}, "
                f"use_reentrant={reent})")

    def d_saved_hooks(self, a, ta):
        hooks = self.draw(st.sampled_from(["pk, upk", "pk_np, upk_np"]))
        b = self.operand(a)
        expr = self.draw(st.sampled_from([f"({a} * {b}).exp()", f"{a}.sin() * 2", f"Sq.apply({a})",
                                          f"({a} * {b}).tanh()", f"{a}.pow(3)"]))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eval(expr, dict(self.tns))
        except Exception:  # noqa: BLE001
            # (PyTorch's node packs what it saves before the kernel checks the shapes: a call that fails
            # has packed some; tape's packs nothing)
            expr = f"{a}.sin() * 2"
        return expr, f"with L.autograd.graph.saved_tensors_hooks({hooks})"

    # ---- backward ----
    def inputs(self):
        """As the base's; in a second-order program no output of a segment: PyTorch's recorded gradient of a
        segment reads the values it saved, its outputs among them, through the outputs' nodes; tape's is a
        function of the segment's inputs."""
        if self.mode != "second":
            return super().inputs()
        floats = [e for e in self.pool if self.t(e).is_floating_point() and e not in self.cp_out]
        if not floats:
            return super().inputs()
        k = self.draw(st.integers(1, min(3, len(floats))))
        return self.draw(st.lists(st.sampled_from(floats), min_size=k, max_size=k, unique=True))

    def backward_phase(self, mode):
        loss = self.loss()
        if loss is None:
            return
        anomaly = self.draw(st.integers(0, 3)) == 0
        wrap = "with L.autograd.detect_anomaly(): " if anomaly else ""
        if mode == "backward":
            rg = self.draw(st.booleans())
            k = self.draw(st.integers(0, 5))
            if k == 0:
                ins = self.inputs()
                ok = self.run(f"{wrap}loss.backward(inputs=[{', '.join(ins)}], retain_graph={rg})")
            elif k == 1:
                ok = self.run(f"{wrap}L.autograd.backward([loss], [L.tensor({self.number()}, dtype=loss.dtype)], "
                              f"retain_graph={rg})")
            else:
                ok = self.run(f"{wrap}loss.backward(retain_graph=True)" if rg else f"{wrap}loss.backward()")
            if ok:
                self.check_grads("after first backward")
            if ok and self.draw(st.booleans()) and self.run("loss.backward()"):
                self.check_grads("after second backward")
        elif mode == "grad":
            ins = self.inputs()
            rg = self.draw(st.booleans())
            au = self.draw(st.sampled_from(["True", "True", "False"]))
            go = ""
            if self.draw(st.integers(0, 3)) == 0:
                go = f", grad_outputs=L.tensor({self.number()}, dtype=loss.dtype)"
            mg = ", materialize_grads=True" if au == "True" and self.draw(st.integers(0, 4)) == 0 else ""
            ok = self.run(f"{wrap}gs = L.autograd.grad(loss, [{', '.join(ins)}], allow_unused={au}{go}{mg}"
                          f"{', retain_graph=True' if rg else ''})", "gs", strict_nonfinite=False)
            if not ok:
                return
            self.check_grads("after autograd.grad")
            if self.draw(st.booleans()) and self.run("loss.backward()"):
                self.check_grads("after backward following autograd.grad")
        else:
            ins = self.inputs()
            if not self.run(f"{wrap}gs = L.autograd.grad(loss, [{', '.join(ins)}], create_graph=True, "
                            f"allow_unused=True)", "gs", check_graph=False, strict_nonfinite=False):
                return
            gs = self.tns["gs"]
            terms = [f"({w!r} * gs[{i}]).sum()" for i, (g, w) in enumerate(zip(gs, [0.5, -1.0, 2.0]))
                     if g is not None]
            if not terms:
                return
            self.run(f"s2 = {' + '.join(terms)}", "s2", check_graph=False, strict_nonfinite=False)
            if self.draw(st.booleans()):
                ok = self.run(f"{wrap}hs = L.autograd.grad(s2, [{', '.join(ins)}], allow_unused=True)",
                              "hs", check_graph=False, strict_nonfinite=False)
            else:
                ok = self.run(f"{wrap}s2.backward()")
            if ok:
                self.check_grads("after second-order backward")


def _run_program(data, mode):
    prog = DoorsProgram(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog.build(mode)
    except _KnownBugStop:
        pass
    finally:
        note("--- program ---\n" + prog.source())


# (no shrinking: a failure prints its whole program, and shrinking one takes minutes)
NO_SHRINK = settings(phases=(Phase.explicit, Phase.reuse, Phase.generate), max_examples=N_EXAMPLES)


@NO_SHRINK
@given(st.data())
def test_doors_program_backward(data):
    _run_program(data, "backward")


@NO_SHRINK
@given(st.data())
def test_doors_program_autograd_grad(data):
    _run_program(data, "grad")


@NO_SHRINK
@given(st.data())
def test_doors_program_second_order(data):
    _run_program(data, "second")


@pytest.mark.parametrize("code", [c for c, *_ in FOUND_CASES])
def test_found_case_matches_torch(code):
    """Each case the fuzzer found (tests/test_fuzz_doors.py pins them torch-free) still agrees with PyTorch."""
    (kind_t, torch_out), (kind_p, tape_out) = outcome(torch, code), outcome(tape, code)
    assert kind_t == kind_p, f"torch {kind_t}: {torch_out!r}\ntape  {kind_p}: {tape_out!r}"
    assert same(tape_out, torch_out), f"torch {torch_out!r}\ntape  {tape_out!r}"


if __name__ == "__main__":
    fuzz_main(_run_program, 5000)
