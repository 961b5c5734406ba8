"""Shape, layout, joining and splitting ops (``ops/layout.py``, ``ops/split.py``) against PyTorch:
errors, node names, strides and contiguity (recorded or not), warnings, aliasing of unrecorded
views, integer inputs, saved values.  Values and derivatives of every order are compared on the
op table (``tests/test_grad_ops.py``, rows under "shape", run by ``tests/test_vs_torch.py``)."""
from __future__ import annotations

import warnings

import pytest

pytestmark = pytest.mark.torch
torch = pytest.importorskip("torch")

import tape  # noqa: E402


def _outcome(M, call):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = call(M)
    except Exception as e:      # noqa: BLE001 (the exception is what is compared)
        text = str(e).split("\nException raised from")[0].split(" (Triggered internally")[0]
        return type(e).__name__, text.replace("torch", "tape")
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return "ok", [(tuple(o.shape), str(o.dtype).split(".")[-1], o.tolist()) for o in outs]


m34 = lambda M: M.arange(12.).reshape(3, 4)      # noqa: E731
v4 = lambda M: M.arange(4.)                       # noqa: E731
s0 = lambda M: M.tensor(1.)                       # noqa: E731
x234 = lambda M: M.arange(24.).reshape(2, 3, 4)   # noqa: E731

CALLS = {
    "permute_length": lambda M: m34(M).permute(0),
    "permute_duplicate": lambda M: m34(M).permute(0, 0),
    "permute_range": lambda M: m34(M).permute(0, 5),
    "permute_no_dims": lambda M: s0(M).permute(),
    "flip_no_dims": lambda M: m34(M).flip(),
    "tile_no_dims": lambda M: m34(M).tile(),
    "repeat_no_sizes": lambda M: m34(M).repeat(),
    "permute_list_kw": lambda M: M.permute(m34(M), dims=[1, 0]),
    "movedim_lengths": lambda M: x234(M).movedim((0, 1), (2,)),
    "movedim_repeated_source": lambda M: x234(M).movedim((0, 0), (1, 2)),
    "movedim_repeated_destination": lambda M: x234(M).movedim((0, 1), (2, 2)),
    "movedim_range": lambda M: x234(M).movedim(3, 0),
    "movedim_kw": lambda M: M.movedim(x234(M), source=-1, destination=0),
    "moveaxis_0d": lambda M: M.moveaxis(s0(M), 0, -1),
    "swapaxes_kw": lambda M: M.swapaxes(x234(M), axis0=0, axis1=-1),
    "swapdims_range": lambda M: M.swapdims(x234(M), 0, 3),
    "mT_vector": lambda M: v4(M).mT,
    "mH_vector": lambda M: v4(M).mH,
    "adjoint_vector": lambda M: v4(M).adjoint(),
    "H_vector": lambda M: v4(M).H,
    "H_batch": lambda M: x234(M).H,
    "unflatten_product": lambda M: m34(M).unflatten(1, (3, -1)),
    "unflatten_empty": lambda M: m34(M).unflatten(1, ()),
    "unflatten_0d": lambda M: s0(M).unflatten(0, (1,)),
    "flatten_0d_range": lambda M: s0(M).flatten(1, 1),
    "flatten_0d": lambda M: s0(M).flatten(-1, 0),
    "unflatten_kw": lambda M: M.unflatten(m34(M), dim=-1, sizes=(2, -1)),
    "broadcast_to_mismatch": lambda M: v4(M).broadcast_to(3, 5),
    "broadcast_to_kw": lambda M: M.broadcast_to(v4(M), size=[2, 4]),
    "broadcast_tensors_mismatch": lambda M: M.broadcast_tensors(v4(M), M.zeros(3)),
    "broadcast_tensors_list": lambda M: M.broadcast_tensors([v4(M), m34(M)]),
    "repeat_too_few": lambda M: m34(M).repeat(2),
    "repeat_negative": lambda M: m34(M).repeat(2, -1),
    "tile_negative": lambda M: m34(M).tile(-1),
    "tile_kw": lambda M: M.tile(m34(M), dims=(2,)),
    "tile_empty": lambda M: m34(M).tile(()),
    "repeat_interleave_negative": lambda M: v4(M).repeat_interleave(-1),
    "repeat_interleave_lengths": lambda M: v4(M).repeat_interleave(M.tensor([1, 2])),
    "repeat_interleave_negative_tensor": lambda M: v4(M).repeat_interleave(M.tensor([1, 2, -1, 0])),
    "repeat_interleave_2d_repeats": lambda M: v4(M).repeat_interleave(M.tensor([[1, 2, 1, 0]])),
    "repeat_interleave_float_repeats": lambda M: v4(M).repeat_interleave(M.tensor([1., 2, 1, 0])),
    "repeat_interleave_output_size": lambda M: v4(M).repeat_interleave(M.tensor([1, 2, 1, 0]), output_size=5),
    "repeat_interleave_int_output_size": lambda M: v4(M).repeat_interleave(2, output_size=3),
    "repeat_interleave_repeats_only": lambda M: M.repeat_interleave(M.tensor([1, 2, 3])),
    "repeat_interleave_0d": lambda M: s0(M).repeat_interleave(3),
    "repeat_interleave_dim_range": lambda M: m34(M).repeat_interleave(2, dim=3),
    "repeat_interleave_0d_tensor": lambda M: m34(M).repeat_interleave(M.tensor(2), dim=1),
    "flip_duplicate": lambda M: m34(M).flip(0, -2),
    "flip_range": lambda M: m34(M).flip(2),
    "flip_kw": lambda M: M.flip(m34(M), dims=(0,)),
    "fliplr_vector": lambda M: v4(M).fliplr(),
    "flipud_0d": lambda M: s0(M).flipud(),
    "roll_mismatch": lambda M: m34(M).roll((1, 2), (0,)),
    "roll_no_dims_tuple": lambda M: m34(M).roll((1, 2)),
    "roll_empty": lambda M: m34(M).roll(()),
    "roll_0d_dim": lambda M: s0(M).roll(1, 0),
    "roll_kw": lambda M: M.roll(m34(M), shifts=-5, dims=1),
    "narrow_exceeds": lambda M: m34(M).narrow(0, 2, 2),
    "narrow_negative_length": lambda M: m34(M).narrow(0, 0, -1),
    "narrow_start_range": lambda M: m34(M).narrow(0, 4, 0),
    "narrow_negative_start_range": lambda M: m34(M).narrow(0, -4, 0),
    "narrow_0d": lambda M: s0(M).narrow(0, 0, 1),
    "narrow_tensor_start": lambda M: m34(M).narrow(0, M.tensor(1), 1),
    "narrow_1d_tensor_start": lambda M: m34(M).narrow(0, M.tensor([1]), 1),
    "narrow_float_tensor_start": lambda M: m34(M).narrow(0, M.tensor(1.), 1),
    "diagonal_identical": lambda M: m34(M).diagonal(0, 1, -1),
    "diagonal_vector": lambda M: v4(M).diagonal(),
    "diagonal_far": lambda M: m34(M).diagonal(10),
    "diag_3d": lambda M: x234(M).diag(),
    "diag_0d": lambda M: s0(M).diag(),
    "diag_embed_identical": lambda M: M.diag_embed(m34(M), 0, 1, 1),
    "diag_embed_0d": lambda M: M.diag_embed(s0(M)),
    "diag_embed_range": lambda M: M.diag_embed(m34(M), 0, 0, 3),
    "tril_vector": lambda M: v4(M).tril(),
    "triu_vector": lambda M: M.triu(v4(M), diagonal=1),
    "atleast_not_tensor": lambda M: M.atleast_1d(1.0).shape,
    "unfold_too_big": lambda M: m34(M).unfold(1, 5, 1),
    "unfold_step_0": lambda M: m34(M).unfold(1, 2, 0),
    "unfold_negative_size": lambda M: m34(M).unfold(1, -1, 1),
    "unfold_0d": lambda M: s0(M).unfold(0, 1, 1),
    "unfold_0d_too_big": lambda M: s0(M).unfold(0, 2, 1),
    "hstack_empty": lambda M: M.hstack([]),
    "vstack_empty": lambda M: M.vstack([]),
    "dstack_empty": lambda M: M.dstack([]),
    "column_stack_empty": lambda M: M.column_stack([]),
    "column_stack_mismatch": lambda M: M.column_stack([s0(M), v4(M)]),
    "hstack_tensor": lambda M: M.hstack(m34(M)),
    "hstack_0d": lambda M: M.hstack([s0(M), s0(M)]),
    "vstack_mixed": lambda M: M.vstack([v4(M), m34(M)]),
    "hstack_promotes": lambda M: M.hstack([v4(M), M.arange(2)]),
    "dstack_out": lambda M: M.dstack([v4(M), v4(M)], out=M.empty(0)),
    "split_zero": lambda M: m34(M).split(0, 1),
    "split_negative": lambda M: m34(M).split(-1, 1),
    "split_sum": lambda M: m34(M).split([1, 2], 1),
    "split_kw": lambda M: M.split(m34(M), split_size_or_sections=3, dim=1),
    "split_method_kw": lambda M: m34(M).split(split_size=3, dim=-1),
    "split_0d": lambda M: s0(M).split(1),
    "split_big": lambda M: m34(M).split(10),
    "split_negative_sizes": lambda M: m34(M).split([5, -1], 1),
    "split_empty_dim": lambda M: M.ones(0, 2).split(2),
    "split_zero_empty_dim": lambda M: M.ones(0, 2).split(0),
    "split_with_sizes_sum": lambda M: m34(M).split_with_sizes([1, 2], 1),
    "split_with_sizes_kw": lambda M: M.split_with_sizes(m34(M), split_sizes=[1, 3], dim=1),
    "chunk_zero": lambda M: m34(M).chunk(0),
    "chunk_more": lambda M: m34(M).chunk(10),
    "chunk_uneven": lambda M: M.arange(6.).chunk(4),
    "chunk_empty_dim": lambda M: M.ones(0, 2).chunk(3),
    "chunk_kw": lambda M: M.chunk(m34(M), chunks=2, dim=-1),
    "chunk_0d": lambda M: s0(M).chunk(1),
    "tensor_split_zero": lambda M: m34(M).tensor_split(0),
    "tensor_split_2d_tensor": lambda M: m34(M).tensor_split(M.tensor([[1]])),
    "tensor_split_float_tensor": lambda M: m34(M).tensor_split(M.tensor([1.])),
    "tensor_split_0d_tensor": lambda M: m34(M).tensor_split(M.tensor(2)),
    "tensor_split_sections_kw": lambda M: M.tensor_split(m34(M), sections=3, dim=1),
    "tensor_split_indices_kw": lambda M: M.tensor_split(m34(M), indices=[1, -1], dim=1),
    "tensor_split_tensor_kw": lambda M: M.tensor_split(m34(M), tensor_indices_or_sections=M.tensor([1]), dim=1),
    "tensor_split_unordered": lambda M: m34(M).tensor_split([1, 7, 2], dim=1),
    "tensor_split_0d": lambda M: s0(M).tensor_split(1),
    "hsplit_indivisible": lambda M: m34(M).hsplit(3),
    "hsplit_0d": lambda M: s0(M).hsplit(1),
    "hsplit_vector": lambda M: v4(M).hsplit(2),
    "vsplit_vector": lambda M: v4(M).vsplit(2),
    "vsplit_indivisible": lambda M: m34(M).vsplit(2),
    "dsplit_matrix": lambda M: m34(M).dsplit(2),
    "dsplit_list": lambda M: M.dsplit(x234(M), [1]),
    "integer_inputs": lambda M: [M.arange(6).reshape(2, 3).flip(0), M.arange(6).reshape(2, 3).tril(),
                                 M.arange(3).repeat(2), M.arange(6).reshape(2, 3).roll(1),
                                 M.tensor([True, False]).repeat_interleave(2), M.arange(4).diag(),
                                 M.arange(6).reshape(2, 3).permute(1, 0), M.arange(6).reshape(3, 2).unfold(0, 2, 1),
                                 M.diag_embed(M.arange(4).reshape(2, 2), -1)],
    "roll_flattened_negative": lambda M: M.arange(5).roll(-7),
    "diag_embed_offset": lambda M: M.diag_embed(M.arange(1., 3.), 1),
    "repeat_interleave_tensor_flattened": lambda M: M.arange(4.).reshape(2, 2).repeat_interleave(
        M.tensor([1, 0, 2, 1])),
    "triu_batched": lambda M: x234(M).triu(-1),
    "squeeze_tuple_negative": lambda M: M.ones(1, 3, 1).squeeze((-1, 0)),
    "atleast_sequence": lambda M: M.atleast_2d([s0(M), v4(M)]),
    "atleast_several": lambda M: M.atleast_3d(s0(M), v4(M), m34(M), x234(M)),
    "ravel_fn": lambda M: M.ravel(m34(M).mT),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_results_and_errors_match_torch(name):
    assert _outcome(tape, CALLS[name]) == _outcome(torch, CALLS[name])


def _layout(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [(tuple(o.shape), o.stride(), o.is_contiguous(), o.requires_grad,
             type(o.grad_fn).__name__ if o.grad_fn is not None else None) for o in outs]


VIEWS = {
    "permute": lambda t: t.permute(2, 0, 1),
    "movedim": lambda t: t.movedim(0, -1),
    "swapaxes": lambda t: t.swapaxes(0, 2),
    "mT": lambda t: t.mT,
    "T": lambda t: t[0].T,
    "T_0d": lambda t: t.sum().T,
    "movedim_0d": lambda t: t.sum().movedim(0, -1),
    "H_0d": lambda t: t.sum().H,
    "mT_0d": lambda t: t.sum().mT,
    "mH_0d": lambda t: t.sum().mH,
    "adjoint_0d": lambda t: t.sum().adjoint(),
    "narrow": lambda t: t.narrow(2, 1, 2),
    "diagonal": lambda t: t.diagonal(1, -1, 1),
    "unfold": lambda t: t.unfold(2, 2, 1),
    "unflatten": lambda t: t.unflatten(2, (2, 2)),
    "split": lambda t: t.split(3, -1),
    "split_sizes": lambda t: t.split([1, 2], 1),
    "chunk": lambda t: t.chunk(2, 2),
    "tensor_split": lambda t: t.tensor_split(3, -1),
    "hsplit": lambda t: t.hsplit([1]),
    "expanded_permute": lambda t: t[0].expand(2, 3, 4).permute(2, 0, 1),
    "transposed_narrow": lambda t: t.mT.narrow(1, 1, 2),
    "transposed_diagonal": lambda t: t.mT.diagonal(),
    "transposed_split": lambda t: t.mT.split(1),
    "transposed_unflatten": lambda t: t.mT.unflatten(1, (2, 2)),
    "broadcast_to": lambda t: t[0, 0].broadcast_to(3, 4),
    "broadcast_tensors": lambda t: tuple(torch_or_tape_of(t).broadcast_tensors(t[0], t.sum(1, keepdim=True))),
    "flip": lambda t: t.flip(1),
    "roll": lambda t: t.roll(1),
    "repeat": lambda t: t.repeat(1, 2, 1, 1),
    "repeat_interleave": lambda t: t.repeat_interleave(2, 1),
    "diag": lambda t: t[0].diag(),
    "diag_embed": lambda t: t.diag_embed(),
    "tril": lambda t: t.tril(),
    "ravel": lambda t: t.mT.ravel(),
    "atleast_3d": lambda t: torch_or_tape_of(t).atleast_3d(t[0, 0]),
    "column_stack": lambda t: torch_or_tape_of(t).column_stack([t[0, 0, :3], t[0]]),
}


def torch_or_tape_of(t):
    return torch if isinstance(t, torch.Tensor) else tape


@pytest.mark.parametrize("requires_grad", [False, True])
@pytest.mark.parametrize("name", sorted(VIEWS))
def test_layouts_and_nodes_match_torch(name, requires_grad):
    got, want = ([_layout(VIEWS[name](M.ones(2, 3, 4, requires_grad=requires_grad) * 1.0))]
                 for M in (tape, torch))
    assert got == want


ALIASES = {
    "permute": lambda b: b.permute(1, 0),
    "movedim": lambda b: b.movedim(0, 1),
    "mT": lambda b: b.mT,
    "narrow": lambda b: b.narrow(1, 1, 2),
    "diagonal": lambda b: b.diagonal(1),
    "unfold": lambda b: b.unfold(1, 2, 2),
    "unflatten": lambda b: b.unflatten(1, (2, 2)),
    "split": lambda b: b.split(2, 1)[1],
    "chunk": lambda b: b.chunk(3)[0],
    "tensor_split": lambda b: b.tensor_split(2, 1)[1],
    "flip": lambda b: b.flip(0),
    "roll": lambda b: b.roll(1),
    "repeat": lambda b: b.repeat(1, 1),
}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_unrecorded_views_write_through_as_torch(name):
    """A view made without recording aliases its base (an in-place change of one shows in the
    other); a copy (flip, roll, repeat) does not."""
    def run(M):
        b = M.arange(12.).reshape(3, 4)
        ALIASES[name](b).add_(100)
        return b.tolist()
    assert run(tape) == run(torch)


_WARNINGS = """
import sys, warnings
M = __import__(sys.argv[1])
warnings.simplefilter("always")
for t, attr in [(M.ones(2, 3, 4), "T"), (M.tensor(2.0), "T"), (M.tensor(2.0), "H"), (M.tensor(2.0), "mT"),
                (M.tensor(2.0), "mH")] * 2:
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = getattr(t, attr)
    print(tuple(out.shape), [(c.category.__name__, str(c.message).split(" (Triggered internally")[0]) for c in w])
"""


def test_deprecation_warnings_match_torch_once_per_process():
    """T of a tensor of other than 2 dims and T/H of a 0-d one warn, once per process each."""
    import subprocess
    import sys
    runs = [subprocess.run([sys.executable, "-c", _WARNINGS, m], capture_output=True, text=True, check=True).stdout
            for m in ("tape", "torch")]
    assert runs[0] == runs[1]
    assert runs[0].count("deprecated") == 5


@pytest.mark.parametrize("make", ["split", "chunk", "split_with_sizes"])
def test_inplace_on_a_split_output_fails_as_torch(make):
    def run(M):
        y = M.ones(3, 4, requires_grad=True) * 1.0
        parts = {"split": lambda: y.split(2, 1), "chunk": lambda: y.chunk(2, 1),
                 "split_with_sizes": lambda: y.split_with_sizes([1, 3], 1)}[make]()
        try:
            parts[0].add_(1)
        except RuntimeError as e:
            return str(e)
        return None
    assert run(tape) == run(torch)


SAVED = {
    "repeat_interleave_tensor": lambda x, M: x.repeat_interleave(M.tensor([1, 2, 0]), dim=0),
    "repeat_interleave_int": lambda x, M: x.repeat_interleave(2, dim=0),
    "permute": lambda x, M: x.permute(1, 0),
    "flip": lambda x, M: x.flip(0),
    "roll": lambda x, M: x.roll(1),
    "diag_embed": lambda x, M: x.diag_embed(),
    "tril": lambda x, M: x.tril(),
    "unfold": lambda x, M: x.unfold(0, 2, 1),
    "split": lambda x, M: M.stack(x.split(1)),
}


@pytest.mark.parametrize("name", sorted(SAVED))
def test_second_backward_without_retain_graph_as_torch(name):
    """Only nodes that save a tensor (IndexSelectBackward0 its indices) refuse a second backward."""
    def run(M):
        x = M.ones(3, 4, requires_grad=True)
        y = SAVED[name](x, M).sum()
        y.backward()
        try:
            y.backward()
        except RuntimeError as e:
            return str(e).split(".")[0], x.grad.tolist()
        return None, x.grad.tolist()
    assert run(tape) == run(torch)


def test_graph_of_compositions_matches_torch():
    """The nodes PyTorch records for ops it composes of others (next_functions chains)."""
    def chain(t):
        out, fn = [], t.grad_fn
        while fn is not None:
            out.append(type(fn).__name__)
            fn = fn.next_functions[0][0] if fn.next_functions else None
        return out

    def run(M):
        m = M.ones(3, 4, requires_grad=True)
        v = M.ones(4, requires_grad=True)
        return [chain(t) for t in (
            m.repeat_interleave(2, dim=0), m.repeat_interleave(2), M.atleast_3d(v), M.atleast_2d(v.sum()),
            M.column_stack([v, m.T]), M.dstack([v, v]), m.T.ravel(), m.mT.flatten(), m.H, m.unsqueeze(0).squeeze((0,)),
            m.narrow(0, M.tensor(1), 2), m.tile((2, 2, 2)), M.hstack([v.sum(), v.sum()]))]
    assert run(tape) == run(torch)
