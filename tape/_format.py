"""``repr`` of tensors, following PyTorch's printing rules (precision 4, linewidth 80)."""
from __future__ import annotations

import math

import numpy as np

from ._dtype import bool_, int64

PRECISION = 4
LINEWIDTH = 80
THRESHOLD = 1000
EDGEITEMS = 3


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
        self.int_mode = all(v == math.ceil(v) for v in pyvals)
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci_mode = True
                self.max_width = max(len(f"{v:.{PRECISION}e}") for v in pyvals)
            else:
                self.max_width = max(self.max_width, max(len(f"{v:.0f}") + 1 for v in pyvals))
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci_mode = True
            self.max_width = max(len(f"{v:.{PRECISION}e}") for v in pyvals)
        else:
            self.max_width = max(len(f"{v:.{PRECISION}f}") for v in pyvals)

    def format(self, v) -> str:
        if self.floating:
            if self.sci_mode:
                s = f"{v:{self.max_width}.{PRECISION}e}"
            elif self.int_mode:
                s = f"{v:.0f}"
                if not (math.isinf(v) or math.isnan(v)):
                    s += "."
            else:
                s = f"{v:.{PRECISION}f}"
        else:
            s = str(v)
        return (self.max_width - len(s)) * " " + s


def _summarized(values: np.ndarray) -> np.ndarray:
    if values.ndim == 0:
        return values
    if values.shape[0] > 2 * EDGEITEMS:
        parts = [values[:EDGEITEMS], values[-EDGEITEMS:]]
    else:
        parts = [values]
    return np.concatenate([np.stack([_summarized(x) for x in p]) if values.ndim > 1 else p
                           for p in parts])


def _vector(values, indent, summarize, fmt) -> str:
    elem_len = fmt.max_width + 2
    per_line = max(1, int(math.floor((LINEWIDTH - indent) / elem_len)))
    items = values.tolist()
    if summarize and len(items) > 2 * EDGEITEMS:
        data = ([fmt.format(v) for v in items[:EDGEITEMS]] + [" ..."]
                + [fmt.format(v) for v in items[-EDGEITEMS:]])
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
    if summarize and n > 2 * EDGEITEMS:
        rows = ([_body(values[i], indent + 1, summarize, fmt) for i in range(EDGEITEMS)] + ["..."]
                + [_body(values[i], indent + 1, summarize, fmt) for i in range(n - EDGEITEMS, n)])
    else:
        rows = [_body(values[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (values.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text: str, suffixes: list, indent: int) -> str:
    parts = [text]
    last_len = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last_len + len(s) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + s)
            last_len = indent + len(s)
        else:
            parts.append(", " + s)
            last_len += len(s) + 2
    parts.append(")")
    return "".join(parts)


def tensor_repr(values: np.ndarray, dtype, default_dtype, grad_fn_name, requires_grad) -> str:
    """PyTorch's ``tensor(...)`` text for ``values`` of tape dtype ``dtype``."""
    prefix = "tensor("
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
        summarize = values.size > THRESHOLD
        fmt = _Formatter(_summarized(values) if summarize else values, dtype.is_floating_point)
        body = _body(values, indent, summarize, fmt)
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
