"""Contractions: ``einsum``, ``tensordot`` and ``inner``.

Each is PyTorch's own composition of existing ops (diagonal, unsqueeze, permute, sum, reshape/view,
mul, bmm, mm, dot), followed step by step, so that the nodes behind a result are PyTorch's and every
order of derivative comes from the ops' own rules.  No row of their own.
"""
from __future__ import annotations

import numpy as np

from .._emit import Tensor
from ._args import wrap_dim
from ._parser import check_types
from ._spec import public, public_function
from .linalg import bmm, dot, mm

_LETTERS = 26
_ELLIPSIS = 2 * _LETTERS         # the subscript of "..." (labels are 0..51: A-Z, then a-z)


def _subscript(label: str) -> int:
    return ord(label) - ord("A") if label.isupper() else ord(label) - ord("a") + _LETTERS


def _label(s: int) -> str:
    return chr(ord("A") + s) if s < _LETTERS else chr(ord("a") + s - _LETTERS)


def _is_label(c: str) -> bool:
    return c.isascii() and c.isalpha()


def _sumproduct_pair(left: Tensor, right: Tensor, sum_dims: list) -> Tensor:
    """``(left * right).sum(sum_dims, keepdim=True)`` through one batched product, as PyTorch's
    einsum pairs its operands (both have the same number of dims, broadcasting)."""
    if not sum_dims:
        return left * right
    summed = set(sum_dims)
    lro, lo, ro = [], [], []
    lro_size = lo_size = ro_size = sum_size = 1
    for i in range(left.dim()):
        sl, sr = left._shape[i] != 1, right._shape[i] != 1
        if i in summed:
            if sl and sr:
                sum_size *= left._shape[i]
            elif sl:
                left = left.sum(i, True)
            elif sr:
                right = right.sum(i, True)
        elif sl and sr:
            lro.append(i)
            lro_size *= left._shape[i]
        elif sl:
            lo.append(i)
            lo_size *= left._shape[i]
        else:
            ro.append(i)
            ro_size *= right._shape[i]
    out_size = [left._shape[d] for d in lro + lo] + [1] * len(sum_dims) + [right._shape[d] for d in ro]
    operm = [0] * len(out_size)
    for k, d in enumerate(lro + lo + list(sum_dims) + ro):
        operm[d] = k
    left = left.permute(lro + lo + list(sum_dims) + ro).reshape(lro_size, lo_size, sum_size)
    right = right.permute(lro + list(sum_dims) + ro + lo).reshape(lro_size, sum_size, ro_size)
    return bmm(left, right).view(out_size).permute(operm)


def _parse_operands(equation: str, operands: tuple) -> tuple:
    """The subscripts of each operand (``_ELLIPSIS`` for "..."), PyTorch's errors."""
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]
    labels: list = [[] for _ in operands]
    ell = False
    cur = 0
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == ".":
            if ell:
                raise RuntimeError(f"einsum(): found '.' for operand {cur} for which an ellipsis was already found")
            if not (i + 2 < len(lhs) and lhs[i + 1] == "." and lhs[i + 2] == "."):
                raise RuntimeError(f"einsum(): found '.' for operand {cur} that is not part of any ellipsis")
            i += 2
            labels[cur].append(_ELLIPSIS)
            ell = True
        elif c == ",":
            cur += 1
            if cur >= len(operands):
                raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
            ell = False
        elif c != " ":
            if not _is_label(c):
                raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            labels[cur].append(_subscript(c))
        i += 1
    if cur != len(operands) - 1:
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    return arrow, lhs, labels


def _einsum(equation: str, operands: tuple) -> Tensor:
    for k, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {k} in argument 1, but got {type(t).__name__}")
    arrow, lhs, op_labels = _parse_operands(equation, operands)
    count = [0] * _ELLIPSIS
    ell_dims = 0
    for i, (t, labels) in enumerate(zip(operands, op_labels)):
        n = len(labels)
        has_ell = _ELLIPSIS in labels
        for s in labels:
            if s != _ELLIPSIS:
                count[s] += 1
        if has_ell:
            n -= 1
            ell_dims = max(ell_dims, t.dim() - n)
        if (n > t.dim()) if has_ell else (n != t.dim()):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({n}) " + (
                f"is more than the number of dimensions ({t.dim()}) for operand {i}" if has_ell else
                f"does not match the number of dimensions ({t.dim()}) for operand {i} and no ellipsis was given"))
    # Every operand is aligned to the dims (output dims, then contracted dims).
    index = [-1] * _ELLIPSIS
    at = ell_at = 0
    ell_out = False
    if arrow < 0:
        at, ell_out = ell_dims, True        # implicit output: the ellipsis, then labels seen once
        for s in range(_ELLIPSIS):
            if count[s] == 1:
                index[s] = at
                at += 1
    else:
        rhs = equation[arrow + 2:]
        i = 0
        while i < len(rhs):
            c = rhs[i]
            if c == ".":
                if ell_out:
                    raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was already found")
                if not (i + 2 < len(rhs) and rhs[i + 1] == "." and rhs[i + 2] == "."):
                    raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis (...)")
                i += 2
                ell_at, at, ell_out = at, at + ell_dims, True
            elif c != " ":
                if not _is_label(c):
                    raise RuntimeError(f"einsum(): invalid subscript given at index {len(lhs) + 2 + i} in the "
                                       "equation string, subscripts must be in [a-zA-Z]")
                s = _subscript(c)
                if count[s] == 0 or index[s] != -1:
                    raise RuntimeError(f"einsum(): output subscript {c}" + (
                        " appears more than once in the output" if index[s] != -1 else
                        " does not appear in the equation for any input operand"))
                index[s] = at
                at += 1
            i += 1
    out_dims = at
    if not ell_out:
        ell_at, at = at, at + ell_dims
    for s in range(_ELLIPSIS):
        if count[s] and index[s] == -1:
            index[s] = at
            at += 1
    total = at
    size = [1] * _ELLIPSIS
    ell_sizes = [1] * ell_dims
    dim_counts = [0] * total
    ops = []
    for i, (op, labels) in enumerate(zip(operands, op_labels)):
        perm = [-1] * total
        d = 0
        for s in labels:
            if s == _ELLIPSIS:
                covered = op.dim() - (len(labels) - 1)
                for j in range(ell_dims - covered, ell_dims):
                    if op._shape[d] != 1:
                        if ell_sizes[j] not in (1, op._shape[d]):
                            raise RuntimeError(f"einsum(): dimension {d} covered by ellipsis in operand {i}has size "
                                               f"{op._shape[d]} which does not broadcast with previously seen "
                                               f"ellipsis with size {ell_sizes[j]} for the respective dimension")
                        ell_sizes[j] = op._shape[d]
                        dim_counts[ell_at + j] += 1
                    perm[ell_at + j] = d
                    d += 1
            elif perm[index[s]] == -1:
                if op._shape[d] != 1:
                    if size[s] not in (1, op._shape[d]):
                        raise RuntimeError(f"einsum(): subscript {_label(s)} has size {op._shape[d]} for operand {i} "
                                           f"which does not broadcast with previously seen size {size[s]}")
                    size[s] = op._shape[d]
                    dim_counts[index[s]] += 1
                perm[index[s]] = d
                d += 1
            else:
                prev = perm[index[s]]       # a repeated label: its diagonal
                if op._shape[d] != op._shape[prev]:
                    raise RuntimeError(f"einsum(): subscript {_label(s)} is repeated for operand {i} but the sizes "
                                       f"don't match, {op._shape[d]} != {op._shape[prev]}")
                op = op.diagonal(0, prev, d).movedim(-1, prev)
        for k in range(total):
            if perm[k] == -1:
                op = op.unsqueeze(d)
                perm[k] = d
                d += 1
        ops.append(op.permute(perm))
    # Contract left to right, summing each contracted dim as soon as no other operand has it.
    while len(ops) > 1:
        a, b = ops.pop(0), ops.pop(0)
        sum_dims, a_sum, b_sum = [], [], []
        for d in range(out_dims, total):
            if a._shape[d] != 1 and b._shape[d] != 1:
                dim_counts[d] -= 1
                if dim_counts[d] == 1:
                    sum_dims.append(d)
                    dim_counts[d] = 0
            elif dim_counts[d] == 1:
                if a._shape[d] != 1:
                    a_sum.append(d)
                    dim_counts[d] = 0
                elif b._shape[d] != 1:
                    b_sum.append(d)
                    dim_counts[d] = 0
        if a_sum:
            a = a.sum(a_sum, True)
        if b_sum:
            b = b.sum(b_sum, True)
        ops.insert(0, _sumproduct_pair(a, b, sum_dims))
    if total > out_dims:
        if len(operands) > 1:
            return ops[0].view(ops[0]._shape[:out_dims])
        return ops[0].sum(list(range(out_dims, total)))
    return ops[0]


def _sublist_label(n) -> str:
    if n is Ellipsis:
        return "..."
    if 0 <= n < 2 * _LETTERS:
        return _label(n)
    raise ValueError("einsum(): subscript in subscript list is not within the valid range [0, 52)")


@public_function("einsum")
def einsum(*args) -> Tensor:
    """Sums the products of the operands' elements along dimensions named by an equation in Einstein
    notation (``einsum("ij,jk->ik", a, b)``), or by lists of subscripts interleaved with the operands
    (``einsum(a, [0, 1], b, [1, 2], [0, 2])``)."""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, or at least one "
                         "operand and its subscripts list")
    if isinstance(args[0], Tensor):
        equation = ",".join("".join(_sublist_label(s) for s in sub) for sub in args[1::2])
        if len(args) % 2 == 1:
            equation += "->" + "".join(_sublist_label(s) for s in args[-1])
            operands = args[:-1:2]
        else:
            operands = args[::2]
    else:
        equation, operands = args[0], args[1:]
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        return einsum(equation, *operands[0])       # (the older form: the operands in one list)
    return _einsum(equation, tuple(operands))


# --- tensordot and inner --------------------------------------------------------------------
def _dims_size(t: Tensor, d: int) -> int:
    return t._shape[wrap_dim(d, t.dim())]


def _contract(a: Tensor, b: Tensor, dims_a: list, dims_b: list) -> Tensor:
    """PyTorch's tensordot over the dims listed in ``dims_a`` and ``dims_b``."""
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    if a._dtype is not b._dtype:
        raise RuntimeError("both inputs should have same dtype")
    csize = 1
    t1, t2 = a, b
    for x, y in zip(dims_a, dims_b):
        s1, s2 = _dims_size(a, x), _dims_size(b, y)
        if s2 == 1:
            t1 = t1.sum(x, True)        # a dim broadcast against the other: summed right away
        elif s1 == 1:
            t2 = t2.sum(y, True)
        elif s1 != s2:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {s1} in dim {x} and second "
                               f"has size {s2} in dim {y}")
        else:
            csize *= s1
    ca, cb = _bitset(dims_a, a.dim()), _bitset(dims_b, b.dim())
    free_a = [i for i in range(a.dim()) if i not in ca]
    free_b = [i for i in range(b.dim()) if i not in cb]
    rsizes = [t1._shape[i] for i in free_a] + [t2._shape[i] for i in free_b]
    size1 = int(np.prod([t1._shape[i] for i in free_a], dtype=np.int64))
    size2 = int(np.prod([t2._shape[i] for i in free_b], dtype=np.int64))
    p1 = free_a + list(dims_a)
    p2 = list(dims_b) + free_b
    if size1 != 1 or size2 != 1:
        return mm(t1.permute(p1).reshape(size1, csize), t2.permute(p2).reshape(csize, size2)).reshape(rsizes)
    # A full contraction: a dot product of the flattened operands (mul and sum when that would copy).
    t1, t2 = t1.permute(p1), t2.permute(p2)
    if t1.is_contiguous() and t2.is_contiguous():
        return dot(t1.flatten(), t2.flatten()).reshape(rsizes)
    return (t1.squeeze() * t2.squeeze()).sum().reshape(rsizes)


def _bitset(dims: list, n: int) -> set:
    seen = set()
    for d in dims:
        w = wrap_dim(d, n)
        if w in seen:
            raise RuntimeError(f"dim {w} appears multiple times in the list of dims")
        seen.add(w)
    return seen


def _int_list(d) -> list:
    if isinstance(d, Tensor):
        return [int(v) for v in d.reshape(-1).tolist()]
    return [int(v) for v in d]


@public_function("tensordot")
def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sums the products of ``a``'s and ``b``'s elements over the last ``dims`` dims of ``a`` and the
    first ``dims`` of ``b``, or over the dims listed in ``dims = (dims_a, dims_b)``."""
    if isinstance(dims, bool) or not isinstance(dims, (tuple, list, Tensor, int, np.integer)):
        raise RuntimeError("tensordot expects dims to be int or tuple[list[int], list[int]] or list[list[int]] "
                           f"containing two lists, but got dims={dims}")
    if isinstance(dims, Tensor):
        if dims.numel() > 1:
            dims_a, dims_b = _int_list(dims[0]), _int_list(dims[1])
        else:
            n = int(dims.item())
            if n < 0:
                raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
            dims_a, dims_b = list(range(-n, 0)), list(range(n))
    elif isinstance(dims, (tuple, list)):
        for k, d in zip(("dims_self", "dims_other"), dims):
            if isinstance(d, (int, np.integer)):
                raise TypeError(f"tensordot(): argument '{k}' (position {3 + (k == 'dims_other')}) must be tuple of "
                                f"ints, not int")
        dims_a, dims_b = (_int_list(d) for d in dims)
    else:
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.dim(), b.dim()):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(-dims, 0)), list(range(dims))
    return _contract(a, b, dims_a, dims_b)


@public("inner")
def inner(self, other: Tensor) -> Tensor:
    """The sum of products over the last dim of both tensors (a product when one is 0-d)."""
    if type(other) is not Tensor:
        check_types("inner", (("other", Tensor),), other)
    if self.dim() == 0 or other.dim() == 0:
        return self * other
    if self._shape[-1] != other._shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"{list(self._shape)} and {list(other._shape)}")
    return _contract(self, other, [-1], [-1])
