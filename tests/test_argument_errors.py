"""PyTorch's errors for arguments of the wrong type: its argument parser checks the type of every
argument before the op looks at any value, and words Python's own argument errors its way."""
from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import tape


class S:
    """A plain class: an argument of no type any op takes."""


def _message(f) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(TypeError) as info:
            f()
    return str(info.value)


@pytest.fixture
def x():
    return tape.ones(2, 3)


def test_a_tensor_argument_in_each_call_form(x):
    x3 = tape.ones(2, 3, 3)
    assert _message(lambda: tape.bmm(x3, S())) == "bmm(): argument 'mat2' (position 2) must be Tensor, not S"
    assert _message(lambda: tape.bmm(x3, mat2=S())) == "bmm(): argument 'mat2' must be Tensor, not S"
    assert _message(lambda: x3.bmm(S())) == "bmm(): argument 'mat2' (position 1) must be Tensor, not S"
    # (a C type is named with its module, a class defined in Python by its name alone)
    assert _message(lambda: x.mm(np.ones((3, 2)))) == \
        "mm(): argument 'mat2' (position 1) must be Tensor, not numpy.ndarray"
    assert _message(lambda: tape.cholesky_solve(x, S())) == \
        "cholesky_solve(): argument 'input2' (position 2) must be Tensor, not S"


def test_bool_and_int_arguments_are_checked_before_the_op_runs(x):
    a = tape.eye(3)
    # (without the check these ran: any object is true)
    assert _message(lambda: tape.qr(a, 1)) == "qr(): argument 'some' (position 2) must be bool, not int"
    assert _message(lambda: a.svd(S())) == "svd(): argument 'some' (position 1) must be bool, not S"
    # (and these failed later, on the input's shape)
    assert _message(lambda: x.cholesky(upper=S())) == "cholesky(): argument 'upper' (position 1) must be bool, not S"
    assert _message(lambda: tape.cholesky(x, upper=S())) == "cholesky(): argument 'upper' must be bool, not S"
    assert _message(lambda: x.matrix_power(2.0)) == "matrix_power(): argument 'n' (position 1) must be int, not float"
    assert _message(lambda: a.matrix_power(tape.tensor([2]))) == \
        "matrix_power(): argument 'n' (position 1) must be int, not Tensor"
    assert a.matrix_power(tape.tensor(2)).shape == (3, 3)       # (a 0-d integer tensor is an int)
    assert _message(lambda: tape.tril_indices(x, 3)) == \
        "tril_indices(): argument 'row' (position 1) must be int, not Tensor"
    assert _message(lambda: tape.range(x, 3)) == "range(): argument 'start' (position 1) must be Number, not Tensor"
    assert _message(lambda: tape.set_anomaly_enabled(x)) == \
        "set_anomaly_enabled(): argument 'enabled' (position 1) must be bool, not Tensor"


def test_arguments_passed_on_by_a_python_wrapper_have_no_position(x):
    # (PyTorch's ``unique`` calls ``_unique2`` with its flags by keyword)
    assert _message(lambda: tape.unique(x, S())) == "_unique2(): argument 'sorted' must be bool, not S"
    assert _message(lambda: x.unique(True, False, S())) == "_unique2(): argument 'return_counts' must be bool, not S"
    assert _message(lambda: x.unique(S(), dim=0)) == "unique_dim(): argument 'sorted' must be bool, not S"
    assert _message(lambda: x.lu(S())) == "_lu_with_info(): argument 'pivot' must be bool, not S"


def test_plain_functions_drop_the_position_of_a_keyword(x):
    v = tape.ones(3)
    assert _message(lambda: tape.combinations(v, S())) == \
        "combinations(): argument 'r' (position 2) must be int, not S"
    assert _message(lambda: tape.combinations(v, r=S())) == "combinations(): argument 'r' must be int, not S"
    assert _message(lambda: tape.vander(v, N=1.5)) == "vander(): argument 'N' must be int, not float"


def test_an_element_of_a_tensor_list(x):
    v = tape.ones(3)
    assert _message(lambda: tape.meshgrid(v, S(), indexing="ij")) == \
        "expected Tensor as element 1 in argument 0, but got S"
    assert _message(lambda: tape.cartesian_prod(S(), v)) == "expected Tensor as element 0 in argument 0, but got S"


def test_python_argument_counts_worded_as_pytorch(x):
    assert _message(lambda: tape.abs(x, S())) == "abs() takes 1 positional argument but 2 were given"
    assert _message(lambda: x.abs_(S())) == "Tensor.abs_() takes no arguments (1 given)"
    assert _message(lambda: x.exp_(S(), S())) == "Tensor.exp_() takes no arguments (2 given)"
    assert _message(lambda: tape.exp_(x, S())) == "exp_() takes 1 positional argument but 2 were given"
    assert _message(lambda: tape.zeros_like(x, S())) == "zeros_like() takes 1 positional argument but 2 were given"
    assert _message(lambda: tape.tensor([1.0], tape.float64)) == "tensor() takes 1 positional argument but 2 were given"


def test_dims_as_the_parser_reads_them(x):
    assert _message(lambda: x.permute(S())) == "permute(): argument 'dims' (position 1) must be tuple of ints, not S"
    assert _message(lambda: x.permute(S(), 0)) == "permute() takes 1 positional argument but 2 were given"
    assert _message(lambda: x.flip([0, S()])) == (
        "flip(): argument 'dims' failed to unpack the object at pos 2 with error "
        "\"type must be tuple of ints,but got S\"")


def test_a_size_as_the_parser_reads_it(x):
    assert _message(lambda: tape.zeros(x, S())) == "zeros() takes 1 positional argument but 2 were given"
    assert _message(lambda: tape.ones(2, S())) == \
        "ones(): argument 'size' failed to unpack the object at pos 2 with error " \
        "\"type must be tuple of ints,but got S\""
    assert tape.zeros(tape.tensor(2), 3).shape == (2, 3)
    assert _message(lambda: tape.rand(x, S())).startswith(
        "rand() received an invalid combination of arguments - got (Tensor, S), but expected one of:\n")


def test_an_argument_not_of_its_annotated_kind_is_refused_first(x):
    # (the parser's check, on the error path of a front end: before Python's missing ``index``)
    assert _message(lambda: tape.gather(x, S())) == "gather(): argument 'dim' (position 2) must be int, not S"
    assert _message(lambda: x.argmax(S())) == "argmax(): argument 'dim' (position 1) must be int, not S"
    assert _message(lambda: tape.argmax(x, dim=S())) == "argmax(): argument 'dim' must be int, not S"
    assert _message(lambda: tape.topk(x, S())) == "topk(): argument 'k' (position 2) must be int, not S"
    assert _message(lambda: tape.amax(x, S())) == "amax(): argument 'dim' (position 2) must be tuple of ints, not S"
    # (a front end's own check of its arguments stands: PyTorch's Python ``unique`` calls ``_unique2``)
    assert _message(lambda: tape.unique(x, S())) == "_unique2(): argument 'sorted' must be bool, not S"
    with pytest.raises(IndexError):
        x.argmax(5)        # (an argument of the right kind: the op's own error)
    # (and front ends without a wrapper check theirs themselves, a type test first)
    assert _message(lambda: x.tril(S())) == "tril(): argument 'diagonal' (position 1) must be int, not S"
    assert _message(lambda: x.flatten(0, 1.0)) == "flatten(): argument 'end_dim' (position 2) must be int, not float"
    assert _message(lambda: x.logit_(S())) == "logit_(): argument 'eps' (position 1) must be float, not S"


_CLAMP_FUNCTION = (" * (Tensor input, Tensor min = None, Tensor max = None, *, Tensor out = None)\n"
                   " * (Tensor input, Number min = None, Number max = None, *, Tensor out = None)\n")


def test_overloads_listed_for_each_call_form(x):
    got = "received an invalid combination of arguments - got"
    assert _message(lambda: tape.clamp(x, S())) == f"clamp() {got} (Tensor, S), but expected one of:\n{_CLAMP_FUNCTION}"
    assert _message(lambda: tape.clip(x, min=S())) == \
        f"clip() {got} (Tensor, min=S), but expected one of:\n{_CLAMP_FUNCTION}"
    method = " * (Tensor min = None, Tensor max = None)\n * (Number min = None, Number max = None)\n"
    assert _message(lambda: x.clamp(S())) == f"clamp() {got} (S), but expected one of:\n{method}"
    assert _message(lambda: x.clamp_(S())) == f"clamp_() {got} (S), but expected one of:\n{method}"
    assert _message(lambda: tape.clamp_(x, S())) == (
        f"clamp_() {got} (Tensor, S), but expected one of:\n * (Tensor input, Tensor min = None, Tensor max = None)\n"
        " * (Tensor input, Number min = None, Number max = None)\n")
    why = "      didn't match because some of the arguments have invalid types: "
    assert _message(lambda: tape.ones(2, 3, 4).dsplit(S())) == (
        f"dsplit() {got} (S), but expected one of:\n * (int sections)\n{why}(!S!)\n * (tuple of ints indices)\n"
        f"{why}(!S!)\n")
    assert _message(lambda: tape.dsplit(tape.ones(2, 3, 4), S())) == (
        f"dsplit() {got} (Tensor, S), but expected one of:\n * (Tensor input, int sections)\n{why}(Tensor, !S!)\n"
        f" * (Tensor input, tuple of ints indices)\n{why}(Tensor, !S!)\n")
    assert _message(lambda: tape.quantile(x, S())).startswith(
        f"quantile() {got} (Tensor, S), but expected one of:\n * (Tensor input, Tensor q, int dim = None, ")
    assert _message(lambda: tape.isin(x, S())).startswith(f"isin() {got} (Tensor, S), but expected one of:\n")
    # (an op with deprecated overloads, not listed: one form listed, still "an invalid combination")
    assert _message(lambda: tape.addbmm(x, S())) == (
        f"addbmm() {got} (Tensor, S), but expected (Tensor input, Tensor batch1, Tensor batch2, *, Number beta = 1, "
        "Number alpha = 1, Tensor out = None)")
    # (but the one listed form taking as many arguments as given names the wrong one: the parser's ``print_error``)
    assert _message(lambda: tape.addcmul(x, x, 1.5)) == \
        "addcmul(): argument 'tensor2' (position 3) must be Tensor, not float"
    # (``()``: the parser counts one argument of no type, and marks it)
    assert _message(lambda: x.max(S())) == (
        f"max() {got} (S), but expected one of:\n * ()\n{why}(!S!)\n * (Tensor other)\n{why}(!S!)\n"
        " * (int dim, bool keepdim = False)\n")
    assert tape.clamp(x, 0, 0.5).sum().item() == 3.0


def test_comparisons_named_and_as_operators(x):
    got = "received an invalid combination of arguments - got"
    why = "      didn't match because some of the arguments have invalid types: (!S!)\n"
    assert _message(lambda: x.ge(S())) == \
        f"ge() {got} (S), but expected one of:\n * (Tensor other)\n{why} * (Number other)\n{why}"
    assert _message(lambda: x.greater_equal_(S())).startswith(f"greater_equal_() {got} (S)")
    assert _message(lambda: tape.less(x, S())) == (
        f"less() {got} (Tensor, S), but expected one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n"
        " * (Tensor input, Number other, *, Tensor out = None)\n")
    # (the operators leave it to Python: its error, or ``==``'s identity)
    assert _message(lambda: x >= S()) == "'>=' not supported between instances of 'Tensor' and 'S'"
    assert (x == S()) is False and (x != None) is True      # noqa: E711
    assert (x > 0.5).all() and x.eq(np.ones(3)).all()


def test_binary_ops_that_take_a_number(x):
    got = "received an invalid combination of arguments - got"
    assert _message(lambda: tape.remainder(x, S())) == (
        f"remainder() {got} (Tensor, S), but expected one of:\n * (Tensor input, Tensor other, *, Tensor out = None)\n"
        " * (Number self, Tensor other)\n      didn't match because some of the arguments have invalid types: "
        "(!Tensor!, !S!)\n * (Tensor input, Number other, *, Tensor out = None)\n")
    assert _message(lambda: x.fmod_(S())).startswith(f"fmod_() {got} (S), but expected one of:\n * (Tensor other)\n")
    assert _message(lambda: x % S()) == "unsupported operand type(s) for %: 'Tensor' and 'S'"
    n = tape.ones(2, dtype=tape.int64)
    assert _message(lambda: n.bitwise_and(S())).startswith(f"bitwise_and() {got} (S), but expected one of:\n")
    assert _message(lambda: n & S()) == "unsupported operand type(s) for &: 'Tensor' and 'S'"
    assert (x % 2).sum().item() == 6.0 and tape.remainder(5, x).sum().item() == 0.0


# The names of the compact probe below: every one gave another error than PyTorch's before (not
# ``abs``: ``x.abs(S())`` is Python's error, "takes 1 positional argument", as for every method
# without arguments; nor ``cdist``: PyTorch's gives ``x2`` by keyword a position, tape's not).
_PROBED = ("bmm", "mm", "mv", "dot", "vdot", "outer", "inner", "cross", "matrix_power", "cholesky", "cholesky_inverse",
           "cholesky_solve", "qr", "svd", "lu", "lu_unpack", "unique", "unique_consecutive", "diagonal_scatter",
           "slice_scatter", "dist", "prelu", "triangular_solve", "combinations", "vander", "chain_matmul", "meshgrid",
           "cartesian_prod", "clamp", "clamp_", "clip_", "quantile", "nanquantile", "dsplit", "hsplit",
           "tensor_split", "isin", "searchsorted", "zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like",
           "tensor", "abs_", "exp_", "sigmoid_", "range", "tril_indices", "set_anomaly_enabled", "resize_as_",
           "rand", "randn", "argmax", "cumsum", "gather", "index_select", "topk", "kthvalue", "amax", "logsumexp",
           "select", "diff", "chunk", "tril", "flatten", "logit", "histc", "ge", "not_equal", "eq", "max", "min",
           "prod", "all", "any", "count_nonzero", "clamp_min", "clamp_max_", "fmod", "remainder", "xlogy", "copysign",
           "float_power", "std", "var", "std_mean", "var_mean", "addmm", "addbmm", "addcmul", "lerp", "masked_fill",
           "index_fill", "scatter", "narrow", "movedim", "softmax", "log_softmax", "unbind", "stack",
           "bitwise_and", "bitwise_or", "bitwise_left_shift", "squeeze", "repeat_interleave",
           "hann_window", "hamming_window", "kaiser_window", "permute", "flip", "tile", "broadcast_to", "concat",
           "fill_", "celu", "orgqr", "ldexp_", "rand_like", "randn_like", "randperm")
# (their method forms: Python's "missing 1 required positional argument", raised before the front end
# runs, where PyTorch's parser lists the overloads; their function forms are compared)
_FUNCTION_ONLY = {"addmm", "addbmm", "addcmul", "lerp", "masked_fill", "movedim"}
_ARGUMENT = re.compile(r"^TypeError: (\w+)\(\): argument '(\w+)' \(position 2\) must be")


def _first_line(f) -> str:
    try:
        f()
    except Exception as e:  # noqa: BLE001  (any error: its type is compared)
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    return "ok"


@pytest.mark.torch
def test_wrongly_typed_second_argument_as_pytorch():
    torch = pytest.importorskip("torch")
    differ = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in _PROBED:
            ft, fp = getattr(torch, name), getattr(tape, name)
            a, b = torch.ones(2, 3), tape.ones(2, 3)
            cases = [("pos", lambda lib_f, t: lib_f(t, S()))]
            m = _ARGUMENT.match(_first_line(lambda: ft(a, S())))
            if m:
                cases.append(("kw", lambda lib_f, t, arg=m.group(2): lib_f(t, **{arg: S()})))
            if hasattr(torch.Tensor, name) and name not in _FUNCTION_ONLY:
                cases.append(("meth", lambda lib_f, t, n=name: getattr(t, n)(S())))
            for form, call in cases:
                want = _first_line(lambda: call(ft, a)).replace("torch.", "tape.")
                got = _first_line(lambda: call(fp, b))
                if want != got:
                    differ.append((name, form, want, got))
    assert not differ, "\n".join(map(str, differ))


def test_a_number_argument_takes_a_0d_tensor_that_needs_no_grad():
    # PyTorch's parser takes a tensor for a Number only when it is 0-d and does not require grad
    x = tape.ones(2)
    zero_d = tape.tensor(2.0)
    assert x.add(x, alpha=zero_d).tolist() == [3.0, 3.0]
    assert x.addcdiv(x, x, value=zero_d).tolist() == [3.0, 3.0]
    assert x.sub(x, alpha=zero_d).tolist() == [-1.0, -1.0]
    for bad in (tape.tensor(2.0, requires_grad=True), tape.tensor([2.0])):
        with pytest.raises(TypeError, match=r"^add\(\): argument 'alpha' must be Number, not Tensor$"):
            x.add(x, alpha=bad)
        with pytest.raises(TypeError, match=r"^sub\(\): argument 'alpha' must be Number, not Tensor$"):
            x.sub(x, alpha=bad)
        with pytest.raises(TypeError, match=r"^addcdiv\(\): argument 'value' must be Number, not Tensor$"):
            x.addcdiv(x, x, value=bad)
        with pytest.raises(TypeError, match=r"^full\(\): argument 'fill_value' \(position 2\) must be Number, not Tensor$"):
            tape.full((2,), bad)
