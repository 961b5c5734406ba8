"""``repr`` of tensors, following PyTorch's printing rules, and ``set_printoptions``."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np

from ._dtype import bool_, int64


class _Options:
    precision = 4
    threshold: float = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode: Optional[bool] = None


OPTS = _Options()
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80), "full": (4, math.inf, 3, 80)}


def set_printoptions(precision: Optional[int] = None, threshold: Optional[float] = None,
                     edgeitems: Optional[int] = None, linewidth: Optional[int] = None,
                     profile: Optional[str] = None, sci_mode: Optional[bool] = None) -> None:
    """Set how tensors print: digits after the point, the element count past which a tensor is
    summarized, the items kept at each edge of a summary, the line width, a profile (``'default'``,
    ``'short'``, ``'full'``) setting those four, and ``sci_mode`` (None: chosen per tensor)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise KeyError(profile)
        OPTS.precision, OPTS.threshold, OPTS.edgeitems, OPTS.linewidth = _PROFILES[profile]
    if precision is not None:
        OPTS.precision = precision
    if threshold is not None:
        OPTS.threshold = threshold
    if edgeitems is not None:
        OPTS.edgeitems = edgeitems
    if linewidth is not None:
        OPTS.linewidth = linewidth
    OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The print options ``set_printoptions`` sets, as a dict."""
    return {"precision": OPTS.precision, "threshold": OPTS.threshold, "edgeitems": OPTS.edgeitems,
            "linewidth": OPTS.linewidth, "sci_mode": OPTS.sci_mode}


class _Formatter:
    def __init__(self, values: np.ndarray, floating: bool) -> None:
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        flat = values.reshape(-1)
        if not floating:
            for v in flat.tolist():
                self.max_width = max(self.max_width, len(str(v)))
            return
        vals = flat[np.isfinite(flat) & (flat != 0)].astype(np.float64)
        if vals.size == 0:
            return
        absv = np.abs(vals)
        lo, hi = float(absv.min()), float(absv.max())
        pyvals = vals.tolist()
        p = OPTS.precision
        self.int_mode = all(v == math.ceil(v) for v in pyvals)
        if self.int_mode:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
        else:
            self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        if OPTS.sci_mode is not None:
            self.sci_mode = OPTS.sci_mode
        if self.sci_mode:
            self.max_width = max(len(f"{v:.{p}e}") for v in pyvals)
        elif self.int_mode:
            self.max_width = max(self.max_width, max(len(f"{v:.0f}") + 1 for v in pyvals))
        else:
            self.max_width = max(len(f"{v:.{p}f}") for v in pyvals)

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{OPTS.precision}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{OPTS.precision}f}"
        else:
            s = str(v)
        return (self.max_width - len(s)) * " " + s


def _summarized(values: np.ndarray) -> np.ndarray:
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * OPTS.edgeitems:
        parts = [values[:OPTS.edgeitems], values[-OPTS.edgeitems:]]
    else:
        parts = [values]
    return np.concatenate([np.stack([_summarized(x) for x in p]) if values.ndim > 1 else p
                           for p in parts])


def _vector(values, indent, summarize, fmt) -> str:
    elem_len = fmt.max_width + 2
    per_line = max(1, int(math.floor((OPTS.linewidth - indent) / elem_len)))
    items = values.tolist()
    if summarize and len(items) > 2 * OPTS.edgeitems:
        data = ([fmt.format(v) for v in items[:OPTS.edgeitems]] + [" ..."]
                + [fmt.format(v) for v in items[-OPTS.edgeitems:]])
    else:
        data = [fmt.format(v) for v in items]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + ("," + "\n" + " " * (indent + 1)).join(lines) + "]"


def _body(values, indent, summarize, fmt) -> str:
    if values.ndim == 0:
        return fmt.format(values.item())
    if values.ndim == 1:
        return _vector(values, indent, summarize, fmt)
    n = values.shape[0]
    if summarize and n > 2 * OPTS.edgeitems:
        rows = ([_body(values[i], indent + 1, summarize, fmt) for i in range(OPTS.edgeitems)] + ["..."]
                + [_body(values[i], indent + 1, summarize, fmt) for i in range(n - OPTS.edgeitems, n)])
    else:
        rows = [_body(values[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_len = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last_len + len(s) + 2 > OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last_len = indent + len(s)
        else:
            parts.append(", " + s)
            last_len += len(s) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(values: np.ndarray, dtype, default_dtype, grad_fn_name, requires_grad, tangent=None,
                prefix: str = "tensor(") -> str:
    """PyTorch's ``tensor(...)`` text for ``values`` of tape dtype ``dtype`` (``tangent``: the text of
    a dual tensor's tangent; ``prefix``: ``P(`` for a Tensor subclass ``P``)."""
    indent = len(prefix)
    suffixes = []
    if values.size == 0:
        if values.ndim != 1:
            suffixes.append("size=" + str(tuple(values.shape)))
        if dtype is not default_dtype:
            suffixes.append("dtype=" + repr(dtype))
        body = "[]"
    else:
        if dtype not in (default_dtype, int64, bool_):
            suffixes.append("dtype=" + repr(dtype))
        if values.dtype == np.float16:
            values = values.astype(np.float32)
        summarize = values.size > OPTS.threshold
        fmt = _Formatter(_summarized(values) if summarize else values, dtype.is_floating_point)
        body = _body(values, indent, summarize, fmt)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    if tangent is not None:
        suffixes.append("tangent=" + tangent)
    return _with_suffixes(prefix + body, suffixes, indent)
