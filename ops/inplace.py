"""In-place variants (``exp_``, ``clamp_``, ``tril_`` ...) of the ops whose result has the shape of their input.

Each is its op computed out of place, then written into the tensor by ``Tensor._inplace``, which
applies PyTorch's in-place rules (a leaf that requires grad refuses; the result must fit the
tensor's shape and dtype category; the version counter moves) and moves the tensor's history to the
op's row, so that ``y.exp_()`` shows ``ExpBackward0`` as in PyTorch.  A variant is made for each
base below that some family registers as a method and that no family defines in place itself
(``add_``, ``fill_``, ``masked_fill_`` ... are written by their families); this module is imported
after the families.
"""
from __future__ import annotations

import inspect
from typing import Callable

from .._emit import D, Tensor, emit, state
from ._spec import PUBLIC, Op, public, public_function, register
from ._spec import tangents
from ._args import check_output_shape
from ._parser import as_function_error, as_inplace_error, inplace_function_forms
from .elementwise import fill_with

BASES = (
    "abs", "absolute", "acos", "acosh", "addbmm", "addcdiv", "addcmul", "addmm", "addmv", "addr", "arccos",
    "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "asin", "asinh", "atan", "atan2", "atanh",
    "baddbmm", "bitwise_and", "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift",
    "bitwise_xor", "ceil", "clamp", "clamp_max", "clamp_min", "clip", "copysign", "cos", "cosh", "cumprod",
    "cumsum", "deg2rad", "digamma", "divide", "eq", "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "fix", "floor",
    "floor_divide", "fmod", "frac", "gcd", "ge", "greater", "greater_equal", "gt", "heaviside", "hypot", "i0",
    "igamma", "igammac", "lcm", "ldexp", "le", "lerp", "less", "less_equal", "lgamma", "log", "log10", "log1p",
    "log2", "logical_and", "logical_not", "logical_or", "logical_xor", "logit", "lt", "multiply", "mvlgamma",
    "nan_to_num", "ne", "neg", "negative", "nextafter", "not_equal", "polygamma", "pow", "rad2deg", "reciprocal",
    "relu", "remainder", "renorm", "round", "rsqrt", "sgn", "sigmoid", "sign", "sin", "sinc", "sinh", "sqrt",
    "square", "subtract", "tan", "tanh", "tril", "triu", "true_divide", "trunc", "xlogy",
)


# A comparison in place on a tensor that requires grad is recorded as a node that passes no gradient
# (suffix 1 when the other operand is a tensor); other unrecorded results (logical ops) leave the
# history as it is, as in PyTorch.
COMPARISONS = {"eq": "Eq", "ne": "Ne", "not_equal": "Ne", "lt": "Lt", "less": "Lt", "le": "Le", "less_equal": "Le",
               "gt": "Gt", "greater": "Gt", "ge": "Ge", "greater_equal": "Ge"}


# PyTorch has no derivative for these in place: on a tensor that requires grad they record a node
# (``AsinhBackward1`` ...) whose backward raises NotImplementedError.  ``ib``: the op (PyTorch's name).
NO_DERIVATIVE = 910
_WITHOUT_DERIVATIVE = ("asinh", "acosh", "atanh")
_ALIASES = {"arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh"}


def _no_derivative(row) -> None:
    raise NotImplementedError(f"the derivative for 'inplace version of {_WITHOUT_DERIVATIVE[row.ib]}' is not "
                              "implemented.")


register(Op(NO_DERIVATIVE, "_inplace_without_derivative", "AsinhBackward1", 0, lambda g, x, y, r: _no_derivative(r),
            float_only=False, grad_fn_of=lambda r: f"{_WITHOUT_DERIVATIVE[r.ib].capitalize()}Backward1",
            py_adjoint=lambda row, va, vb, gy, ga, gb, fresh: _no_derivative(row)))
tangents({NO_DERIVATIVE: lambda ts, xs, y, r: _no_derivative(r)})     # (nor a tangent: PyTorch's error)


_CLAMPS = ("clamp", "clamp_min", "clamp_max", "clip")
_DIVISIONS = ("remainder", "fmod")    # (integer operands: the kernel refuses a zero divisor)
# (and these kernels refuse some dtypes: PyTorch's iterator checks the output's shape first)
_KERNEL_DTYPES = ("gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
                  "bitwise_right_shift", "igamma", "igammac")


def _takes_arguments(method: Callable) -> bool:
    """Whether PyTorch's method of this name takes any argument (tape's unary fronts take ``out=``,
    for their function form)."""
    try:
        params = list(inspect.signature(method).parameters)[1:]
    except (TypeError, ValueError):
        return True
    return any(p != "out" for p in params)


def _variant(base: str) -> Callable:
    no_derivative = _ALIASES.get(base, base)

    def variant(self, *args, **kwargs) -> Tensor:
        self._check_inplace(*args, *kwargs.values())
        # (the changed tensor itself among the operands: the op may have saved it, ``x.addcmul_(w, x)``)
        operand = self if any(a is self for a in (*args, *kwargs.values())) else \
            next((a for a in args if isinstance(a, Tensor)), None)
        if no_derivative in _WITHOUT_DERIVATIVE and self._rg and state.grad:
            y = getattr(self.detach(), base)()
            if y._dtype is self._dtype:
                y = emit(NO_DERIVATIVE, y._value(), y._dtype, self, ib=_WITHOUT_DERIVATIVE.index(no_derivative))
            return self._inplace(y)
        if base in _DIVISIONS or base in _KERNEL_DTYPES:
            check_output_shape(self._shape, operand)     # (before the kernel's division by zero or dtype error)
        try:
            result = getattr(self, base)(*args, **kwargs)
        except TypeError as e:
            method = getattr(Tensor, base)
            as_inplace_error(e, base + "_", (base, method.__name__), _takes_arguments(method))
            raise
        if base in _CLAMPS and result._dtype._cat > self._dtype._cat and \
                not any(isinstance(a, Tensor) for a in (*args, *kwargs.values())):
            # (PyTorch's clamp_ by numbers prints the tensor's TypeMeta: "... output type long int")
            raise RuntimeError(f"result type {D.legacy_name(result._dtype)} can't be cast to the desired output type "
                               f"{D.cpp_name(self._dtype)}")
        if base in COMPARISONS and self._rg and state.grad:
            name = f"{COMPARISONS[base]}Backward{int(operand is not None)}"
            return fill_with(self, result._value(), name)
        return self._inplace(result, operand)
    variant.__name__ = base + "_"
    variant.__doc__ = f"In-place version of :meth:`Tensor.{base}`."
    return variant


def float_power_(self, exponent) -> Tensor:
    """In-place version of :meth:`Tensor.float_power` (the tensor must be float64, as the result is)."""
    if self._dtype is not D.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {D.legacy_name(self._dtype)} but the "
                           "operation's result requires dtype Double")
    self._check_inplace(exponent)
    return self._inplace(self.float_power(exponent), exponent if isinstance(exponent, Tensor) else None)


def _register() -> None:
    methods = {name for entry in PUBLIC for name in entry.methods}
    for base in BASES:
        if base in methods and base + "_" not in methods:
            public(base + "_", function=False)(_variant(base))
    if "float_power" in methods and "float_power_" not in methods:
        public("float_power_", function=False)(float_power_)


_register()


# The augmented assignments PyTorch defines in place (``x **= 2`` is ``x.pow_(2)``); without them Python
# would compute ``x ** 2`` out of place and rebind the name, leaving the tensor and its version as they were.
_AUGMENTED = {"__ipow__": "pow_", "__imod__": "remainder_", "__iand__": "bitwise_and_", "__ior__": "bitwise_or_",
              "__ixor__": "bitwise_xor_"}


def _augmented(method: str) -> Callable:
    def augmented(self, other) -> Tensor:
        return getattr(self, method)(other)
    augmented.__doc__ = f"``{method}(other)``: the in-place form of the operator."
    return augmented


for _dunder, _method in _AUGMENTED.items():
    public(_dunder)(_augmented(_method))


# The in-place functions PyTorch has at top level (``torch.exp_(x)`` is ``x.exp_()``).
FUNCTIONS = (
    "abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_", "arctan_", "arctanh_", "asin_", "asinh_",
    "atan_", "atanh_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "erf_",
    "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_", "index_put_", "lcm_", "ldexp_",
    "log10_", "log1p_", "log2_", "log_", "logit_", "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_",
    "relu_", "resize_as_", "round_", "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_", "trunc_",
    "xlogy_", "zero_",
)


def _function(name: str) -> Callable:
    def fn(input: Tensor, *args, **kwargs) -> Tensor:
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
        try:
            return getattr(input, name)(*args, **kwargs)
        except TypeError as e:
            forms = inplace_function_forms(e, name)
            if forms is None or not forms.reword(e, (input, *args), kwargs):
                as_function_error(e, name, name, kwargs, name)
            raise
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``input.{name}(...)``: :meth:`Tensor.{name}` as a function."
    return fn


def _register_functions() -> None:
    methods = {name for entry in PUBLIC for name in entry.methods}
    functions = {name for entry in PUBLIC for name in entry.functions}
    for name in FUNCTIONS:
        if name in methods and name not in functions:
            public_function(name)(_function(name))


_register_functions()
