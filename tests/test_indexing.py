"""Indexing ops: index_select, gather, take, take_along_dim, masked_select, masked_fill, the
scatter family and their in-place forms.

``CASES`` builds inputs and a result in either library (``M`` is tape or torch); the tests
marked ``torch`` compare, between tape and PyTorch: the value, dtype, shape and node name of
the result, the names of its next functions, the first gradients (``create_graph=True``) of a
weighted sum of it and the second gradients through them, or the exception's type and message.
The op table of ``tests/test_grad_ops.py`` checks the same ops against finite differences.
"""
from __future__ import annotations

import numpy as np
import pytest

import tape
from tape.ops import index as I


def _x(M, *shape, scale=1.0, dtype=None):
    n = int(np.prod(shape))
    v = (np.arange(n) * 0.37 - 1.1).reshape(shape) * scale
    return M.tensor(v, dtype=dtype or M.float64, requires_grad=True)


def _one(fn, *shape):
    def build(M):
        x = _x(M, *shape)
        return (x,), fn(M, x)
    return build


def _two(fn, sx, sz):
    def build(M):
        x, z = _x(M, *sx), _x(M, *sz, scale=1.5)
        return (x, z), fn(M, x, z)
    return build


def _t(M, v, **kw):
    return M.tensor(v, **kw)


CASES = {
    "index_select": _one(lambda M, x: x.index_select(1, _t(M, [2, 0, 2])), 3, 4),
    "index_select_fn_neg": _one(lambda M, x: M.index_select(x, -2, _t(M, [1, 1])), 3, 4),
    "index_select_0d_index": _one(lambda M, x: x.index_select(1, _t(M, 2)), 3, 4),
    "index_select_int32": _one(lambda M, x: x.index_select(0, _t(M, [2], dtype=M.int32)), 3, 4),
    "index_select_0d": _one(lambda M, x: x.index_select(0, _t(M, [0]))),
    "index_select_0d_out_of_range": _one(lambda M, x: x.index_select(0, _t(M, [1]))),
    "index_select_0d_two": _one(lambda M, x: x.index_select(0, _t(M, [0, 0]))),
    "index_select_empty": _one(lambda M, x: x.index_select(0, _t(M, [], dtype=M.int64)), 3, 4),
    "index_select_out_of_range": _one(lambda M, x: x.index_select(1, _t(M, [4])), 3, 4),
    "index_select_negative": _one(lambda M, x: x.index_select(1, _t(M, [-1])), 3, 4),
    "index_select_float": _one(lambda M, x: x.index_select(1, _t(M, [1.0])), 3, 4),
    "index_select_2d": _one(lambda M, x: x.index_select(1, _t(M, [[1]])), 3, 4),
    "index_select_list": _one(lambda M, x: x.index_select(1, [1]), 3, 4),
    "index_select_dim": _one(lambda M, x: x.index_select(2, _t(M, [1])), 3, 4),
    "gather": _one(lambda M, x: x.gather(0, _t(M, [[0, 1, 2, 2], [2, 2, 2, 2]])), 3, 4),
    "gather_fn_neg": _one(lambda M, x: M.gather(x, -1, _t(M, [[0], [3], [3]])), 3, 4),
    "gather_int32": _one(lambda M, x: x.gather(1, _t(M, [[0]], dtype=M.int32)), 3, 4),
    "gather_0d": _one(lambda M, x: x.gather(0, _t(M, 0))),
    "gather_0d_two": _one(lambda M, x: x.gather(0, _t(M, [0, 0]))),
    "gather_dims": _one(lambda M, x: x.gather(0, _t(M, [0])), 3, 4),
    "gather_size": _one(lambda M, x: x.gather(0, _t(M, [[0] * 5])), 3, 4),
    "gather_out_of_range": _one(lambda M, x: x.gather(0, _t(M, [[3]])), 3, 4),
    "gather_negative": _one(lambda M, x: x.gather(0, _t(M, [[-1]])), 3, 4),
    "gather_float": _one(lambda M, x: x.gather(0, _t(M, [[1.0]])), 3, 4),
    "gather_3d": _one(lambda M, x: x.gather(1, _t(M, [[[0, 1]], [[2, 2]]])), 2, 3, 2),
    "take": _one(lambda M, x: x.take(_t(M, [[0, 11], [-1, 5]])), 3, 4),
    "take_fn_repeated": _one(lambda M, x: M.take(x, _t(M, [0, 0, 0])), 3, 4),
    "take_out_of_range": _one(lambda M, x: x.take(_t(M, [12])), 3, 4),
    "take_negative_out_of_range": _one(lambda M, x: x.take(_t(M, [-13])), 3, 4),
    "take_int32": _one(lambda M, x: x.take(_t(M, [1], dtype=M.int32)), 3, 4),
    "take_0d": _one(lambda M, x: x.take(_t(M, 0))),
    "take_along_dim": _one(lambda M, x: M.take_along_dim(x, _t(M, [[0], [1], [3]]), 1), 3, 4),
    "take_along_dim_broadcast": _one(lambda M, x: M.take_along_dim(x, _t(M, [[0, 1]]), 0), 3, 2),
    "take_along_dim_broadcast_input": _one(lambda M, x: x.take_along_dim(_t(M, [[0], [1], [1]]), dim=-1), 1, 4),
    "take_along_dim_flat": _one(lambda M, x: M.take_along_dim(x, _t(M, [[0, 5]])), 3, 4),
    "take_along_dim_mismatch": _one(lambda M, x: M.take_along_dim(x, _t(M, [[1, 2]]), 0), 3, 4),
    "take_along_dim_dims": _one(lambda M, x: M.take_along_dim(x, _t(M, [1]), 1), 3, 4),
    "take_along_dim_float": _one(lambda M, x: M.take_along_dim(x, _t(M, [[1.0]]), 1), 3, 4),
    "take_along_dim_int32": _one(lambda M, x: M.take_along_dim(x, _t(M, [[1]], dtype=M.int32), 1), 3, 4),
    "masked_select": _one(lambda M, x: x.masked_select(x > 0), 3, 4),
    "masked_select_broadcast_mask": _one(lambda M, x: x.masked_select(_t(M, [[True], [False]])), 4),
    "masked_select_broadcast_input": _one(lambda M, x: M.masked_select(x, _t(M, [True, False, True, True])), 2, 1),
    "masked_select_uint8": _one(lambda M, x: x.masked_select(_t(M, [1], dtype=M.uint8)), 3, 4),
    "masked_select_mismatch": _one(lambda M, x: x.masked_select(_t(M, [True, False])), 3, 4),
    "masked_fill": _one(lambda M, x: x.masked_fill(x > 0, 2.5), 3, 4),
    "masked_fill_int": _one(lambda M, x: M.masked_fill(x, x < 0, 2), 3, 4),
    "masked_fill_broadcast": _one(lambda M, x: x.masked_fill(_t(M, [[True], [False]]), -1.0), 4),
    "masked_fill_tensor": _two(lambda M, x, z: x.masked_fill(x > 0, z), (3, 4), ()),
    "masked_fill_tensor_broadcast": _two(lambda M, x, z: x.masked_fill(_t(M, [[True], [False]]), z), (4,), ()),
    "masked_fill_constant_tensor": _one(lambda M, x: x.masked_fill(x > 0, _t(M, 3.0)), 3, 4),
    "masked_fill_float32_tensor": _one(lambda M, x: x.masked_fill(x > 0, _t(M, 3.0, dtype=M.float32)), 3, 4),
    "masked_fill_uint8": _one(lambda M, x: x.masked_fill(_t(M, [1], dtype=M.uint8), 1.0), 3, 4),
    "masked_fill_float_mask": _one(lambda M, x: x.masked_fill(_t(M, [1.0]), 1.0), 3, 4),
    "masked_fill_1d_value": _one(lambda M, x: x.masked_fill(_t(M, [True]), _t(M, [1.0])), 3, 4),
    "masked_fill_chain": _one(lambda M, x: (x * x).masked_fill(x > 0, 0.0).masked_fill(x < -0.5, 1.0) * x, 3, 4),
    "masked_fill_": _one(lambda M, x: (x * 1).masked_fill_(x > 0, 0.0) * x, 3, 4),
    "masked_fill_leaf": _one(lambda M, x: x.masked_fill_(x > 0, 0.0), 3, 4),
    "masked_fill_broadcast_": _one(lambda M, x: (x * 1).masked_fill_(_t(M, [[True], [False]]), 0.0), 4),
    # scatters (PyTorch's backward fails for a src larger than the index: the tests keep them equal)
    "scatter": _two(lambda M, x, z: x.scatter(0, _t(M, [[0, 1, 2, 0]]), z), (3, 4), (1, 4)),
    "scatter_dup": _two(lambda M, x, z: x.scatter(1, _t(M, [[0, 0], [3, 1], [3, 3]]), z), (3, 4), (3, 2)),
    "scatter_fn_neg": _two(lambda M, x, z: M.scatter(x, -1, _t(M, [[0, 1], [3, 2]]), z), (3, 4), (2, 2)),
    "scatter_v": _one(lambda M, x: x.scatter(0, _t(M, [[0, 1, 2, 0]]), 2.0), 3, 4),
    "scatter_value_kw": _one(lambda M, x: x.scatter(0, _t(M, [[0, 1, 2, 0]]), value=2.0), 3, 4),
    "scatter_v_t": _one(lambda M, x: x.scatter(0, _t(M, [[0, 1, 2, 0]]), _t(M, 2.0)), 3, 4),
    "scatter_red_bad": _two(lambda M, x, z: x.scatter(0, _t(M, [[0, 1, 2, 0]]), z, reduce="sum"), (3, 4), (3, 5)),
    "scatter_red": _two(lambda M, x, z: x.detach().scatter(0, _t(M, [[0, 1, 2, 0], [0, 0, 0, 0]]), z.detach(), reduce="add"), (3, 4), (3, 5)),
    "scatter_red_m": _two(lambda M, x, z: x.detach().scatter(0, _t(M, [[0, 1, 2, 0], [0, 0, 0, 0]]), z.detach(), reduce="multiply"), (3, 4), (3, 5)),
    "scatter_red_v": _one(lambda M, x: x.detach().scatter(0, _t(M, [[0, 1, 2, 0]]), 2.0, reduce="add"), 3, 4),
    "scatter_dt": _two(lambda M, x, z: x.scatter(0, _t(M, [[0]]), z.float()), (3, 4), (3, 5)),
    "scatter_f": _two(lambda M, x, z: x.scatter(0, _t(M, [[0.]]), z), (3, 4), (3, 5)),
    "scatter_nd": _two(lambda M, x, z: x.scatter(0, _t(M, [0]), z), (3, 4), (3, 5)),
    "scatter_big": _two(lambda M, x, z: x.scatter(0, _t(M, [[0, 1, 2, 0, 1]]), z), (3, 4), (3, 5)),
    "scatter_big2": _two(lambda M, x, z: x.scatter(0, _t(M, [[0, 1, 2, 0]] * 4), z), (3, 4), (3, 5)),
    "scatter_oob": _two(lambda M, x, z: x.scatter(0, _t(M, [[0, 3]]), z), (3, 4), (3, 5)),
    "scatter_0d": _two(lambda M, x, z: x.scatter(0, _t(M, 0), z), (), ()),
    "scatter_empty": _two(lambda M, x, z: x.scatter(0, _t(M, [[]], dtype=M.int64), z), (3, 4), (1, 0)),
    "scatter_": _two(lambda M, x, z: (x * 1).scatter_(0, _t(M, [[0, 1, 2, 0]]), z) * x, (3, 4), (1, 4)),
    "scatter_leaf": _two(lambda M, x, z: x.scatter_(0, _t(M, [[0, 1, 2, 0]]), z), (3, 4), (3, 5)),
    "scatter_nograd_self": _two(lambda M, x, z: M.zeros(3, 4, dtype=M.float64).scatter_(0, _t(M, [[0, 1, 2, 0]]), z), (3, 4), (1, 4)),
    "scatter_add": _two(lambda M, x, z: x.scatter_add(0, _t(M, [[0, 1, 2, 0], [0, 0, 0, 0]]), z), (3, 4), (2, 4)),
    "scatter_add_fn": _two(lambda M, x, z: M.scatter_add(x, 1, _t(M, [[0, 0, 0]], dtype=M.int32), z), (3, 4), (1, 3)),
    "scatter_add_v": _one(lambda M, x: x.scatter_add(0, _t(M, [[0]]), 2.0), 3, 4),
    "scatter_add_": _two(lambda M, x, z: (x * 1).scatter_add_(0, _t(M, [[0, 1, 2, 0], [0, 0, 0, 0]]), z), (3, 4), (2, 4)),
    "index_add": _two(lambda M, x, z: x.index_add(0, _t(M, [0, 2, 0]), z, alpha=2), (3, 4), (3, 4)),
    "index_add_fn": _two(lambda M, x, z: M.index_add(x, -1, _t(M, [1, 1], dtype=M.int32), z), (3, 4), (3, 2)),
    "index_add_bad": _two(lambda M, x, z: x.index_add(0, _t(M, [0, 2]), z), (3, 4), (2, 3)),
    "index_add_bad2": _two(lambda M, x, z: x.index_add(0, _t(M, [0, 2]), z), (3, 4), (3, 4)),
    "index_add_oob": _two(lambda M, x, z: x.index_add(0, _t(M, [0, 3]), z), (3, 4), (2, 4)),
    "index_add_f": _two(lambda M, x, z: x.index_add(0, _t(M, [0., 2]), z), (3, 4), (2, 4)),
    "index_add_2d": _two(lambda M, x, z: x.index_add(0, _t(M, [[0]]), z), (3, 4), (1, 4)),
    "index_add_0d": _two(lambda M, x, z: x.index_add(0, _t(M, [0]), z), (), ()),
    "index_add_0d2": _two(lambda M, x, z: x.index_add(0, _t(M, 0), z), (), (1,)),
    "index_add_dt": _two(lambda M, x, z: x.index_add(0, _t(M, [0]), z.float()), (3, 4), (1, 4)),
    "index_add_": _two(lambda M, x, z: (x * 1).index_add_(0, _t(M, [0, 2, 0]), z, alpha=-1.5), (3, 4), (3, 4)),
    "index_copy": _two(lambda M, x, z: x.index_copy(0, _t(M, [2, 0]), z), (3, 4), (2, 4)),
    "index_copy_fn": _two(lambda M, x, z: M.index_copy(x, 1, _t(M, [3]), z), (3, 4), (3, 1)),
    "index_copy_oob": _two(lambda M, x, z: x.index_copy(0, _t(M, [0, 3]), z), (3, 4), (2, 4)),
    "index_copy_i32": _two(lambda M, x, z: x.index_copy(0, _t(M, [0], dtype=M.int32), z), (3, 4), (1, 4)),
    "index_copy_0d": _two(lambda M, x, z: x.index_copy(0, _t(M, 1), z), (2, 3), (3,)),
    "index_copy_bad": _two(lambda M, x, z: x.index_copy(0, _t(M, [1]), z), (2, 3), (1, 2)),
    "index_copy_bad2": _two(lambda M, x, z: x.index_copy(0, _t(M, [1, 0]), z), (2, 3), (1, 3)),
    "index_copy_2d": _two(lambda M, x, z: x.index_copy(0, _t(M, [[1]]), z), (2, 3), (1, 3)),
    "index_copy_dt": _two(lambda M, x, z: x.index_copy(0, _t(M, [1]), z.float()), (2, 3), (1, 3)),
    "index_copy_": _two(lambda M, x, z: (x * 1).index_copy_(0, _t(M, [2, 0]), z), (3, 4), (2, 4)),
    "index_fill": _one(lambda M, x: x.index_fill(1, _t(M, [0, 2, -1]), 2.0), 3, 4),
    "index_fill_t": _two(lambda M, x, z: x.index_fill(1, _t(M, [0, 2]), z), (3, 4), ()),
    "index_fill_t1": _one(lambda M, x: x.index_fill(1, _t(M, [0, 2]), _t(M, [2.0])), 3, 4),
    "index_fill_oob": _one(lambda M, x: x.index_fill(1, _t(M, [0, 4]), 2.0), 3, 4),
    "index_fill_oob_neg": _one(lambda M, x: x.index_fill(1, _t(M, [0, -5]), 2.0), 3, 4),
    "index_fill_i32": _one(lambda M, x: x.index_fill(1, _t(M, [0], dtype=M.int32), 2.0), 3, 4),
    "index_fill_2d": _one(lambda M, x: x.index_fill(1, _t(M, [[0]]), 2.0), 3, 4),
    "index_fill_0d": _one(lambda M, x: x.index_fill(0, _t(M, 1), 2.0), 3, 4),
    "index_fill_0dx": _one(lambda M, x: x.index_fill(0, _t(M, [0]), 2.0)),
    "index_fill_": _one(lambda M, x: (x * 1).index_fill_(1, _t(M, [0, 2]), 2.0) * x, 3, 4),
    "index_put": _two(lambda M, x, z: x.index_put((_t(M, [0, 2]),), z), (3, 4), (1, 4)),
    "index_put_acc": _two(lambda M, x, z: x.index_put((_t(M, [0, 2, 0]), _t(M, [1, 1, 1])), z, accumulate=True), (3, 4), ()),
    "index_put_list": _two(lambda M, x, z: M.index_put(x, [_t(M, [0, 2])], z), (3, 4), (4,)),
    "index_put_bool": _two(lambda M, x, z: x.index_put((x > 0,), z), (3, 4), ()),
    "index_put_none": _two(lambda M, x, z: x.index_put((None, _t(M, [0])), z), (3, 4), ()),
    "index_put_shape": _two(lambda M, x, z: x.index_put((_t(M, [0, 2]),), z), (3, 4), (3,)),
    "index_put_dt": _two(lambda M, x, z: x.index_put((_t(M, [0, 2]),), z.float()), (3, 4), (4,)),
    "index_put_": _two(lambda M, x, z: (x * 1).index_put_((_t(M, [0, 2, 2]),), z, accumulate=True), (3, 4), (3, 4)),
    "index_put_2": _two(lambda M, x, z: (x * 1).index_put_((_t(M, [0, 2]), _t(M, [[1], [3]])), z), (3, 4), (2, 1)),
    "masked_scatter": _two(lambda M, x, z: x.masked_scatter(x > 0, z), (3, 4), (3, 5)),
    "masked_scatter_bc": _two(lambda M, x, z: x.masked_scatter(_t(M, [True, False, True]), z), (2, 3), (2, 3)),
    "masked_scatter_bc2": _two(lambda M, x, z: x.masked_scatter(_t(M, [[True], [False]]), z), (3,), (2, 3)),
    "masked_scatter_small": _two(lambda M, x, z: x.masked_scatter(_t(M, [True] * 4), z), (3, 4), (1, 3)),
    "masked_scatter_dt": _two(lambda M, x, z: x.masked_scatter(x > 0, z.float()), (3, 4), (3, 5)),
    "masked_scatter_u8": _two(lambda M, x, z: x.masked_scatter(_t(M, [1], dtype=M.uint8), z), (3, 4), (3, 5)),
    "masked_scatter_": _two(lambda M, x, z: (x * 1).masked_scatter_(x > 0, z), (3, 4), (3, 5)),
    "put": _two(lambda M, x, z: x.put(_t(M, [0, 11, -2]), z), (3, 4), (3,)),
    "put_acc": _two(lambda M, x, z: x.put(_t(M, [[0, 0], [5, 0]]), z, accumulate=True), (3, 4), (4,)),
    "put_fn": _two(lambda M, x, z: M.put(x, _t(M, [1]), z), (3, 4), (1, 1)),
    "put_oob": _two(lambda M, x, z: x.put(_t(M, [12]), z), (3, 4), (1,)),
    "put_n": _two(lambda M, x, z: x.put(_t(M, [0, 1]), z), (3, 4), (3,)),
    "put_i32": _two(lambda M, x, z: x.put(_t(M, [1], dtype=M.int32), z), (3, 4), (1,)),
    "put_dt": _two(lambda M, x, z: x.put(_t(M, [1]), z.float()), (3, 4), (1,)),
    "put_": _two(lambda M, x, z: (x * 1).put_(_t(M, [0, 0]), z, accumulate=True), (3, 4), (2,)),
}


def _reduced(how, include_self, ties=False):
    """scatter_reduce of a (2, 3) src into a (2, 3) self; ``ties``: zeros and equal values in both
    (ties of amax/amin share the gradient; one zero in a product)."""
    def build(M):
        x, z = _x(M, 2, 3), _x(M, 2, 3, scale=1.5)
        if ties:
            with M.no_grad():
                x[0, 0], x[0, 1], z[0, 0], z[0, 2], z[1, 1] = 0.0, 0.555, 0.0, 0.0, 0.555
        return (x, z), x.scatter_reduce(0, _t(M, [[0, 0, 1], [0, 0, 0]]), z, how, include_self=include_self)
    return build


for _how in ("sum", "prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        CASES[f"scatter_reduce_{_how}_{_inc}"] = _reduced(_how, _inc)
        CASES[f"scatter_reduce_{_how}_{_inc}_ties"] = _reduced(_how, _inc, True)
CASES.update({
    "scatter_reduce_bad": _reduced("add", True),
    "scatter_reduce_int_mean": lambda M: ((), M.tensor([1, 2, 3]).scatter_reduce(0, M.tensor([0, 0]), M.tensor([4, 5]),
                                                                                 "mean")),
    "scatter_reduce_int_mean_exclude": lambda M: ((), M.tensor([1, 2, 3]).scatter_reduce(
        0, M.tensor([0, 0]), M.tensor([4, 5]), "mean", include_self=False)),
    "scatter_reduce_int_amin_exclude": lambda M: ((), M.tensor([1, 2, 3]).scatter_reduce(
        0, M.tensor([0, 0]), M.tensor([4, 5]), "amin", include_self=False)),
    "scatter_reduce_fn": lambda M: ((), M.scatter_reduce(M.ones(3), 0, M.tensor([0, 0]), M.ones(2) * 2, reduce="prod")),
    "scatter_reduce_": _two(lambda M, x, z: (x * 1).scatter_reduce_(0, _t(M, [1, 1]), z, "amax"), (3,), (2,)),
    "scatter_reduce_leaf": _two(lambda M, x, z: x.scatter_reduce_(0, _t(M, [1, 1]), z, "amax"), (3,), (2,)),
    "scatter_reduce_dtypes": lambda M: ((), M.ones(3).scatter_reduce(0, M.tensor([0, 0]), M.ones(2, dtype=M.float64),
                                                                     reduce="sum")),
})


def _index_reduced(how, include_self, ties=False):
    """index_reduce of a (3, 2) source into a (2, 2) self along dim 0, positions [1, 0, 1]."""
    def build(M):
        x, z = _x(M, 2, 2), _x(M, 3, 2, scale=1.5)
        if ties:
            with M.no_grad():
                x[1, 0], z[0, 0], z[2, 0], z[1, 1] = 0.555, 0.555, 0.0, 0.0
        return (x, z), x.index_reduce(0, _t(M, [1, 0, 1]), z, how, include_self=include_self)
    return build


for _how in ("prod", "mean", "amax", "amin"):
    for _inc in (True, False):
        CASES[f"index_reduce_{_how}_{_inc}"] = _index_reduced(_how, _inc)
        CASES[f"index_reduce_{_how}_{_inc}_ties"] = _index_reduced(_how, _inc, True)
CASES.update({
    "index_reduce_sum": _index_reduced("sum", True),
    "index_reduce_out_of_range": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0, 2]), z, "prod"), (2, 2), (2, 2)),
    "index_reduce_negative": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0, -1]), z, "prod"), (2, 2), (2, 2)),
    "index_reduce_float_index": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0.0]), z, "prod"), (2, 2), (1, 2)),
    "index_reduce_i32": _two(lambda M, x, z: x.index_reduce(1, _t(M, [1, 1], dtype=M.int32), z, "amin"), (2, 2), (2, 2)),
    "index_reduce_matrix_index": _two(lambda M, x, z: x.index_reduce(0, _t(M, [[0, 1]]), z, "prod"), (2, 2), (2, 2)),
    "index_reduce_count": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0, 1, 1]), z, "prod"), (2, 2), (2, 2)),
    "index_reduce_dtypes": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0, 1]), z.float(), "prod"), (2, 2), (2, 2)),
    "index_reduce_shapes": _two(lambda M, x, z: x.index_reduce(0, _t(M, [0, 1]), z, "prod"), (2, 2), (2, 3)),
    "index_reduce_dim": _two(lambda M, x, z: x.index_reduce(2, _t(M, [0, 1]), z, "prod"), (2, 2), (2, 2)),
    "index_reduce_0d": lambda M: ((), M.tensor(2.).index_reduce(0, M.tensor([0]), M.tensor(3.), "prod")),
    "index_reduce_int_mean": lambda M: ((), M.tensor([1, 2, 3]).index_reduce(0, M.tensor([0, 0]), M.tensor([3, 4]),
                                                                             "mean")),
    "index_reduce_int_mean_exclude": lambda M: ((), M.tensor([1, 2, 3]).index_reduce(
        0, M.tensor([0, 0]), M.tensor([3, 4]), "mean", include_self=False)),
    "index_reduce_": _two(lambda M, x, z: (x * 1).index_reduce_(0, _t(M, [1, 1]), z, "amax"), (3,), (2,)),
    "index_reduce_leaf": _two(lambda M, x, z: x.index_reduce_(0, _t(M, [1, 1]), z, "amax"), (3,), (2,)),
})

def _getitem(index, shape=(2, 3, 4)):
    def build(M):
        x = M.tensor(np.arange(np.prod(shape), dtype=float).reshape(shape) * 0.5 - 3, dtype=M.float64,
                     requires_grad=True)
        return (x,), x[index(M, x)]
    return build


# Indexing: PyTorch records a node per view it applies (select, slice, unsqueeze, then index);
# tape records one row named after the last, so the next functions are not compared for these.
GETITEM = {
    "getitem_range": _getitem(lambda M, x: range(2)),
    "getitem_range2": _getitem(lambda M, x: (slice(None), range(0, 3, 2))),
    "getitem_sep": _getitem(lambda M, x: (_t(M, [0, 1]), slice(None), _t(M, [1, 2]))),
    "getitem_sep_bc": _getitem(lambda M, x: (_t(M, [[0], [1]]), slice(None), _t(M, [1, 2, 3]))),
    "getitem_adj": _getitem(lambda M, x: (slice(None), _t(M, [0, 1]), _t(M, [1, 2]))),
    "getitem_none_adv": _getitem(lambda M, x: (None, _t(M, [0, 1]), 0)),
    "getitem_int_adv": _getitem(lambda M, x: (0, slice(None), _t(M, [1, 2]))),
    "getitem_int_adv2": _getitem(lambda M, x: (_t(M, [1]), slice(1, None), 0)),
    "getitem_int_adv3": _getitem(lambda M, x: (1, _t(M, [1, 0]), slice(None))),
    "getitem_ell_adv": _getitem(lambda M, x: (Ellipsis, _t(M, [1, 2]))),
    "getitem_ell_adv2": _getitem(lambda M, x: (_t(M, [1, 0]), Ellipsis, _t(M, [1, 2]))),
    "getitem_bool_scalar": _getitem(lambda M, x: True),
    "getitem_bool_scalar_f": _getitem(lambda M, x: False),
    "getitem_bool_scalar_t": _getitem(lambda M, x: (0, True, slice(None))),
    "getitem_mask2": _getitem(lambda M, x: x[:, :, 0] > -1),
    "getitem_mask_mid": _getitem(lambda M, x: (slice(None), _t(M, [True, False, True]))),
    "getitem_mask_and_idx": _getitem(lambda M, x: (_t(M, [True, False]), slice(None), _t(M, [0, 3]))),
    "getitem_oob": _getitem(lambda M, x: _t(M, [5])),
    "getitem_oob2": _getitem(lambda M, x: (slice(None), _t(M, [5]))),
    "getitem_oob_neg": _getitem(lambda M, x: (slice(None), _t(M, [-4]))),
    "getitem_oob_list": _getitem(lambda M, x: [0, 5]),
    "getitem_oob_int": _getitem(lambda M, x: 5),
    "getitem_oob_int2": _getitem(lambda M, x: (0, 5)),
    "getitem_oob_int3": _getitem(lambda M, x: (0, slice(None), -5)),
    "getitem_neg_step": _getitem(lambda M, x: slice(None, None, -1)),
    "getitem_step0": _getitem(lambda M, x: slice(None, None, 0)),
    "getitem_slice_big": _getitem(lambda M, x: slice(5, 10)),
    "getitem_steps": _getitem(lambda M, x: (slice(None), slice(None, None, 2), slice(1, None, 3))),
    "getitem_neg_slice": _getitem(lambda M, x: (slice(-1, None), slice(-5, -1))),
    "getitem_tuple_list": _getitem(lambda M, x: ([0, 1], [1, 2])),
    "getitem_rep": _getitem(lambda M, x: _t(M, [0, 0, 1])),
    "getitem_rep2": _getitem(lambda M, x: (slice(None), [2, 2, 2], [0, 0, 1])),
    "getitem_float": _getitem(lambda M, x: 1.5),
    "getitem_float_t": _getitem(lambda M, x: _t(M, [1.0])),
    "getitem_u8mask": _getitem(lambda M, x: _t(M, [1, 0], dtype=M.uint8)),
    "getitem_0d_int_tensor": _getitem(lambda M, x: _t(M, 1)),
    "getitem_0d_int_tensor2": _getitem(lambda M, x: (slice(None), _t(M, 1), _t(M, [0, 1]))),
    "getitem_ndarray": _getitem(lambda M, x: np.array([0, 1])),
    "getitem_int32": _getitem(lambda M, x: _t(M, [0, 1], dtype=M.int32)),
    "getitem_many": _getitem(lambda M, x: (0, 0, 0, 0)),
    "getitem_mask_bad": _getitem(lambda M, x: _t(M, [True, False, True])),
    "getitem_empty_list": _getitem(lambda M, x: []),
    "getitem_empty_t": _getitem(lambda M, x: _t(M, [], dtype=M.int64)),
    "getitem_none_only": _getitem(lambda M, x: None),
    "getitem_none_many": _getitem(lambda M, x: (None, Ellipsis, None)),
    "getitem_0d_x": _getitem(lambda M, x: (), shape=()),
    "getitem_0d_none": _getitem(lambda M, x: None, shape=()),
    "getitem_0d_ell": _getitem(lambda M, x: Ellipsis, shape=()),
    "getitem_0d_mask": _getitem(lambda M, x: _t(M, True), shape=()),
    "getitem_0d_int": _getitem(lambda M, x: 0, shape=()),
    "getitem_size0_int": _getitem(lambda M, x: (slice(None), 0), shape=(0, 3)),
    "getitem_size0_adv": _getitem(lambda M, x: _t(M, [0]), shape=(0, 3)),
}


def _values(t) -> list:
    return np.round(np.asarray(t.detach().tolist(), dtype=float), 6).tolist()


def outcome(M, build, chain: bool = True) -> object:
    """What ``build`` gives in library ``M``, in a form both libraries share (without the names of
    the next functions unless ``chain``)."""
    try:
        ins, out = build(M)
    except Exception as e:      # noqa: BLE001 (the exception is the outcome compared)
        return ("error", type(e).__name__, str(e).replace("tape", "torch"))
    res = [str(out.dtype).split(".")[-1], tuple(out.shape), _values(out), out.requires_grad,
           type(out.grad_fn).__name__ if out.grad_fn is not None else None]
    if out.grad_fn is None:
        return res
    if chain:
        res.append([type(n[0]).__name__ if n[0] is not None else None for n in out.grad_fn.next_functions])
    w = M.tensor(np.linspace(0.5, 2.0, out.numel()).reshape(tuple(out.shape)), dtype=out.dtype)
    try:
        grads = M.autograd.grad((out * w).sum(), ins, create_graph=True, allow_unused=True)
    except Exception as e:      # noqa: BLE001
        return res + [("error", type(e).__name__, str(e).replace("tape", "torch"))]
    res.append([None if g is None else _values(g) for g in grads])
    total = sum((g * g * w.sum()).sum() for g in grads if g is not None and g.requires_grad)
    if isinstance(total, M.Tensor):
        try:
            res.append([None if g is None else _values(g) for g in M.autograd.grad(total, ins, allow_unused=True)])
        except Exception as e:      # noqa: BLE001
            res.append(("error", type(e).__name__, str(e).replace("tape", "torch")))
    return res


@pytest.mark.torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(name):
    torch = pytest.importorskip("torch")
    assert outcome(tape, CASES[name]) == outcome(torch, CASES[name])


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using a non-tuple sequence", "ignore:indexing with dtype torch.uint8")
@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem_matches_torch(name):
    torch = pytest.importorskip("torch")
    assert outcome(tape, GETITEM[name], chain=False) == outcome(torch, GETITEM[name], chain=False)


def test_getitem_places_indices_as_pytorch():
    """Integers select first; index arrays separated by a slice go first, adjacent ones stay."""
    x = tape.arange(24.0).reshape(2, 3, 4)
    assert tuple(x[0, :, [1, 2]].shape) == (3, 2)
    assert tuple(x[[0, 1], :, [1, 2]].shape) == (2, 3)
    assert tuple(x[:, [0, 1], [1, 2]].shape) == (2, 2)
    assert tuple(x[None, [0, 1], 0].shape) == (1, 2, 4)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 0 with size 3"):
        x[:, tape.tensor([5])]


def test_gather_picks_along_any_dim_of_any_layout():
    """gather's positions (compiled for a row-major int64 index, numpy's otherwise) for indices
    smaller than the input in the other dims, along each dim; an out-of-bounds value is reported
    as the first in row-major order."""
    rng = np.random.default_rng(3)
    for shape, ishape in (((4, 5), (3, 2)), ((2, 3, 4), (2, 2, 5)), ((6,), (9,)), ((3, 1, 4), (1, 1, 2))):
        v = rng.standard_normal(shape)
        for dim in range(len(shape)):
            sizes = tuple(s if d == dim else min(s, i) for d, (s, i) in enumerate(zip(shape, ishape)))
            idx = rng.integers(0, shape[dim], sizes)
            sub = v[tuple(slice(None) if d == dim else slice(0, s) for d, s in enumerate(sizes))]
            for index, picks in ((tape.tensor(idx), idx), (tape.tensor(idx).flip(0), idx[::-1]),
                                 (tape.tensor(idx, dtype=tape.int32), idx)):
                x = tape.tensor(v, requires_grad=True)
                y = x.gather(dim, index)
                np.testing.assert_array_equal(y.detach().numpy(), np.take_along_axis(sub, picks, dim))
                y.sum().backward()
                counts = np.zeros(shape)
                np.add.at(counts, tuple(picks if d == dim else np.indices(sizes)[d] for d in range(len(shape))), 1.0)
                np.testing.assert_array_equal(x.grad.numpy(), counts)
    idx = np.zeros((3, 4), np.int64)
    idx[1, 2], idx[2, 0] = 5, -1
    with pytest.raises(RuntimeError, match="^index 5 is out of bounds for dimension 1 with size 4$"):
        tape.ones(3, 4).gather(1, tape.tensor(idx))


def test_repeated_indices_accumulate():
    x = _x(tape, 4)
    x.take(tape.tensor([1, 1, 3, 1])).sum().backward()
    assert x.grad.tolist() == [0.0, 3.0, 0.0, 1.0]
    assert type(x.take(tape.tensor([0])).grad_fn).__name__ == "TakeBackward0"


def test_masked_fill_values_and_gradients():
    x = _x(tape, 2, 3)
    v = tape.tensor(4.0, dtype=tape.float64, requires_grad=True)
    y = x.masked_fill(tape.tensor([True, False, True]), v)
    assert y.detach().numpy()[:, 0].tolist() == [4.0, 4.0]
    (y * tape.arange(6.0, dtype=tape.float64).reshape(2, 3)).sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [0.0, 4.0, 0.0]]
    assert v.grad.item() == 0.0 + 2.0 + 3.0 + 5.0


def test_inplace_on_leaf_raises():
    x = _x(tape, 3)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        x.masked_fill_(x > 0, 1.0)


def test_inplace_bumps_version():
    x = tape.zeros(3)
    before = x._version
    x.masked_fill_(tape.tensor([True, False, True]), 2.0)
    assert x._version == before + 1 and x.tolist() == [2.0, 0.0, 2.0]


def test_put_adjoint_matches_rule():
    """The PUT row's numpy adjoint (plain backward) against its rule (the recorded backward); a fill
    by a tensor value holds its mask (PUT_SRC_HELD, whose rule runs in both)."""
    rng = np.random.default_rng(0)
    for dtype in (tape.float64, tape.float32):
        x = tape.tensor(rng.normal(size=(3, 4)), dtype=dtype, requires_grad=True)
        z = tape.tensor(rng.normal(size=()), dtype=dtype, requires_grad=True)
        w = tape.tensor(rng.normal(size=(3, 4)), dtype=dtype)
        filled = x.masked_fill(tape.tensor(rng.normal(size=(3, 4)) > 0), z)
        copied = x * 1
        copied[1:, ::2] = z.expand(2, 2) * 2
        for y, code in ((copied, I.PUT), (filled, I.PUT_SRC_HELD)):
            assert y._tape.op[y._node] == code
            plain = tape.autograd.grad((y * w).sum(), (x, z), retain_graph=True)
            rule = tape.autograd.grad((y * w).sum(), (x, z), create_graph=True)
            for p, r in zip(plain, rule):
                np.testing.assert_array_equal(p.numpy(), r.detach().numpy())


def test_scatter_from_a_larger_src():
    """Only the elements of ``src`` the index covers are written, and only they get gradients
    (PyTorch's backward fails here: it returns a gradient shaped like the index)."""
    x = _x(tape, 3, 4)
    z = _x(tape, 3, 5, scale=1.5)
    index = tape.tensor([[0, 1, 2, 0]])
    for fn in (lambda x, z: x.scatter(0, index, z), lambda x, z: x.scatter_add(0, index, z)):
        assert tape.autograd.gradcheck(fn, (x, z))
        assert tape.autograd.gradgradcheck(fn, (x, z))
    z.grad = None
    x.scatter(0, index, z).sum().backward()
    assert z.grad.tolist() == [[1.0] * 4 + [0.0]] + [[0.0] * 5] * 2


def test_inplace_into_a_plain_tensor_from_a_recorded_one():
    """An in-place op on a tensor that needs no grad, from one that does: the op's own row read the
    old value (PyTorch: the gradient flows to the operand); a row recorded before the change did
    not, and still fails."""
    b = tape.tensor([1.0, 2.0], dtype=tape.float64, requires_grad=True)
    a = tape.ones(2, dtype=tape.float64) * 3
    a.mul_(b)
    a.sum().backward()
    assert b.grad.tolist() == [3.0, 3.0]
    z = tape.tensor([0.5, 2.0], dtype=tape.float64, requires_grad=True)
    x = tape.ones(3, dtype=tape.float64) * 2
    x.scatter_reduce_(0, tape.tensor([1, 1]), z, "prod")
    x.sum().backward()
    assert z.grad.tolist() == [4.0, 1.0]
    a = tape.ones(2, dtype=tape.float64) * 3
    c = a * b
    a.mul_(b)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        c.sum().backward()


def test_item_assignment_with_index_tensors_records_index_put():
    # As PyTorch: ``x[idx] = v`` with index tensors only is ``x.index_put_(idx, v)``, one IndexPutBackward0 node
    # whose next functions are the old value's and the value's (None for a number).
    a = tape.ones(3, requires_grad=True)
    x, v = a * 1, a * 2
    x[tape.tensor([0, 0])] = v[:2]
    assert x.grad_fn.name() == "IndexPutBackward0"
    assert [f[0].name() for f in x.grad_fn.next_functions] == ["MulBackward0", "SliceBackward0"]
    x.sum().backward()
    assert a.grad.tolist() == [2.0, 3.0, 1.0]
    y = a * 1
    y[y > 0] = 3.0
    assert y.grad_fn.name() == "IndexPutBackward0" and y.grad_fn.next_functions[1][0] is None
    assert y.tolist() == [3.0, 3.0, 3.0]


_HELD_INDEX = {      # (what changes the index or mask tensor in place: True when PyTorch's node saved it)
    "index_add": (lambda M, x, s, i: M.index_add(x, 0, i, s, alpha=2), True),
    "index_add, self only": (lambda M, x, s, i: M.index_add(x, 0, i, s.detach()), False),
    "scatter_add": (lambda M, x, s, i: M.scatter_add(x, 0, i, s), True),
    "scatter_add, self only": (lambda M, x, s, i: M.scatter_add(x, 0, i, s.detach()), False),
    "scatter": (lambda M, x, s, i: M.scatter(x, 0, i, s.detach()), True),
    "index_copy": (lambda M, x, s, i: M.index_copy(x.detach(), 0, i, s), True),
    "index_put": (lambda M, x, s, i: M.index_put(x, (i,), s), True),
    "index_put, accumulate": (lambda M, x, s, i: M.index_put(x, (i,), s.detach(), accumulate=True), True),
    "put": (lambda M, x, s, i: M.put(x, i, s), True),
    "setitem": (lambda M, x, s, i: M.Tensor.__setitem__(x, i, s) or x, True),
    "masked_scatter": (lambda M, x, s, i: M.masked_scatter(x, i, M.cat([s, s])), True),
    "masked_fill, tensor value": (lambda M, x, s, i: M.masked_fill(x, i, s[0]), True),
    "index_fill, tensor value": (lambda M, x, s, i: M.index_fill(x, 0, i, s[0]), True),
    "scatter_reduce": (lambda M, x, s, i: M.scatter_reduce(x, 0, i, s, "amax"), True),
    "index_reduce": (lambda M, x, s, i: M.index_reduce(x, 0, i, s.detach(), "prod"), True),
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(_HELD_INDEX))
def test_a_saved_index_tensor_changed_in_place_makes_backward_fail_as_pytorch(name):
    torch = pytest.importorskip("torch")
    fn, saved = _HELD_INDEX[name]
    outcome = []
    for M in (torch, tape):
        x = M.zeros(5, requires_grad=True).clone()
        s = M.ones(3, requires_grad=True)
        if name.startswith("masked"):
            i = M.tensor([True, False, True, False, False])
            y = fn(M, x, s, i)
            i.logical_not_()
        else:
            i = M.tensor([0, 1, 2])
            y = fn(M, x, s, i)
            i.add_(1)
        try:
            y.sum().backward()
            outcome.append(("ok", s.grad.tolist() if s.grad is not None else None))
        except RuntimeError as e:
            outcome.append(str(e))
        if M is torch:
            assert saved == (outcome[0][0] != "ok"), outcome[0]
    assert outcome[0] == outcome[1]


_SEVERAL_INDICES = {     # (x, i, j, v) -> the result
    "x[i, j]": lambda M, x, i, j, v: x[i, j],
    "x[i, :, j]": lambda M, x, i, j, v: x.view(4, 1, 4)[i, :, j],
    "x[i, mask]": lambda M, x, i, j, v: x[i[:1], j],
    "index_put": lambda M, x, i, j, v: x.index_put((i, j), v),
    "index_put, accumulate": lambda M, x, i, j, v: x.index_put((i, j), v, accumulate=True),
    "index_put, values only": lambda M, x, i, j, v: x.detach().index_put((i, j), v),
    "setitem, a number": lambda M, x, i, j, v: M.Tensor.__setitem__(x, (i, j), 2.0) or x,
}


@pytest.mark.torch
@pytest.mark.parametrize("name", list(_SEVERAL_INDICES))
@pytest.mark.parametrize("changed", [0, 1, None])
def test_every_index_tensor_of_an_indexing_is_checked_at_backward(name, changed):
    """PyTorch's IndexBackward0 and IndexPutBackward0 save all their index tensors: changing any of
    them in place makes backward fail (INDEX_HELD, PUT_SRC_HELD hold them all); unchanged, the
    gradients, names and saved indices are PyTorch's."""
    torch = pytest.importorskip("torch")
    outcome = []
    for M in (torch, tape):
        x = M.arange(16.0).view(4, 4).requires_grad_()
        y0 = x * 1
        v = M.ones(2, requires_grad=True)
        i = M.tensor([0, 2])
        j = M.tensor([True, False, True, True]) if "mask" in name else M.tensor([1, 3])
        y = _SEVERAL_INDICES[name](M, y0, i, j, v)
        shown = [y.grad_fn.name(), [None if t is None else t.tolist() for t in y.grad_fn._saved_indices]]
        if changed is not None:
            (i, j)[changed].logical_not_() if (i, j)[changed].dtype == M.bool else (i, j)[changed].add_(1)
        try:
            (y * M.arange(float(y.numel())).view(y.shape)).sum().backward()
            outcome.append(shown + [None if t.grad is None else t.grad.tolist() for t in (x, v)])
        except RuntimeError as e:
            outcome.append(shown + [str(e)])
    assert outcome[0] == outcome[1]
    assert (changed is None) == (len(outcome[0]) == 4)


def test_index_put_checks_its_indices_before_the_dtypes():
    # PyTorch's order: the index tensors (their dtype, how many), then source and destination dtypes
    # (found by the random-program fuzzer: a 0-d tensor, an empty index list, a float value).
    x = tape.tensor(-2)
    with pytest.raises(IndexError, match=r"^too many indices for tensor of dimension 0 \(got 1\)$"):
        x.index_put((tape.tensor([], dtype=tape.int64),), tape.tensor(-2.0), accumulate=True)
    with pytest.raises(IndexError, match=r"^too many indices for tensor of dimension 1 \(got 2\)$"):
        tape.zeros(3).index_put_((tape.tensor([0]), tape.tensor([0])), tape.tensor(1))
    with pytest.raises(IndexError, match="^tensors used as indices must be long, int, byte or bool tensors$"):
        tape.zeros(3).index_put((tape.tensor([0.0]),), tape.tensor(1))
    with pytest.raises(RuntimeError, match="^Index put requires the source and destination dtypes match"):
        tape.zeros(3).index_put((tape.tensor([5]),), tape.tensor(1))      # (bounds: the kernel's, after)


@pytest.mark.parametrize("by_index", [False, True])
def test_a_prod_scatter_of_two_zeros_to_one_place_has_no_second_derivative_for_its_source(by_index):
    # (PyTorch's rule puts the source's gradient behind an Error node there; without it the
    # second derivative came out 0 where it is the product of the rest)
    x = tape.tensor([1.0], dtype=tape.float64, requires_grad=True)
    z = tape.tensor([0.0, 0.0], dtype=tape.float64, requires_grad=True)
    i = tape.tensor([0, 0])
    y = x.index_reduce(0, i, z, "prod") if by_index else x.scatter_reduce(0, i, z, "prod")
    gx, gz = tape.autograd.grad(y.sum(), (x, z), create_graph=True)
    assert type(gz.grad_fn).__name__ == "Error" and gz.tolist() == [0.0, 0.0]
    with pytest.raises(RuntimeError, match="Double backward is unsupported for (src|source) when >1 zeros"):
        gz.sum().backward()
    z = tape.tensor([0.0, 2.0], dtype=tape.float64, requires_grad=True)       # (one zero: differentiable)
    y = x.index_reduce(0, i, z, "prod") if by_index else x.scatter_reduce(0, i, z, "prod")
    gx, gz = tape.autograd.grad(y.sum(), (x, z), create_graph=True)
    (gzz,) = tape.autograd.grad(gz[0], z)
    assert gzz.tolist() == [0.0, 1.0]
