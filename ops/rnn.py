"""Recurrent layers: PyTorch's ``torch.rnn_tanh_cell``, ``rnn_relu_cell``, ``lstm_cell``, ``gru_cell``
and the multi-layer ``torch.rnn_tanh``, ``rnn_relu``, ``lstm``, ``gru`` (padded and packed forms).

PyTorch's CPU kernels (``aten/src/ATen/native/RNN.cpp``) compose other ops, so these do the same
composition and record no row of their own: a cell is ``linear(h, w_hh, b_hh).add_(linear(x, w_ih,
b_ih))`` then the gates (``unsafe_chunk`` and in-place ``sigmoid_``/``tanh_``); a layer computes the
input projection of the whole sequence at once, ``unbind``s it and ``stack``s the steps' outputs;
a bidirectional layer ``cat``s both directions; the final states are ``stack``ed.  The nodes are
PyTorch's (``TanhBackward0``, ``StackBackward0``, ``CatBackward0`` ...), and every order of
derivative comes from the ops.  (PyTorch runs a float32 ``lstm`` without projections through
oneDNN, ``MkldnnRnnLayerBackward0``; tape takes the native path whatever the dtype, whose values
agree to float32 rounding.)

``torch._pack_padded_sequence`` has a node of its own in PyTorch, ``PackPaddedSequenceBackward0``:
here a Python-rule row (``PACK``) whose rule is PyTorch's ``_pack_padded_sequence_backward`` written
in tape ops; ``torch._pad_packed_sequence`` is PyTorch's composition (``full`` and ``copy_`` into slices).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np

from .._emit import D, Tensor, emit, plain, state
from .composite import dropout, linear
from .join import cat, stack
from ._parser import Forms
from ._rule import rule_adjoint
from ._spec import PYTHON, Op, public_function, register, tangents


class _Params(NamedTuple):
    """One direction of one layer (PyTorch's ``CellParams``); ``w_hr`` only for an LSTM with projections."""
    w_ih: Tensor
    w_hh: Tensor
    b_ih: Optional[Tensor]
    b_hh: Optional[Tensor]
    w_hr: Optional[Tensor] = None


def _check_tensors(name: str, *checks) -> None:
    """PyTorch's parser's TypeError for an argument that is not a Tensor (``(arg, position, value,
    optional)``; a list or tuple of tensors where ``optional`` is ``"list"``)."""
    for arg, position, value, kind in checks:
        if kind == "list":
            if not isinstance(value, (list, tuple)) or not all(isinstance(t, Tensor) for t in value):
                raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be tuple of Tensors, "
                                f"not {type(value).__name__}")
        elif not (isinstance(value, Tensor) or (kind and value is None)):
            raise TypeError(f"{name}(): argument '{arg}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def _check_input(input: Tensor, input_size: int) -> None:
    if input.size(1) != input_size:
        raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {input_size}")


def _check_hidden(input: Tensor, hx: Tensor, hidden_size: int, label: int) -> None:
    if input.size(0) != hx.size(0):
        raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{label} batch size {hx.size(0)}")
    if hx.size(1) != hidden_size:
        raise RuntimeError(f"hidden{label} has inconsistent hidden_size: got {hx.size(1)}, expected {hidden_size}")


def _check_weights(gates: int, w_ih: Tensor, w_hh: Tensor, hidden_size: int) -> None:
    for name, w in (("weight_ih", w_ih), ("weight_hh", w_hh)):
        if w.size(0) != gates * hidden_size:
            raise RuntimeError(f"{name} first dim must be {gates} * hidden_size = {gates * hidden_size}, "
                               f"but got {w.size(0)}")


# --- cells (PyTorch's SimpleCell, LSTMCell, GRUCell; ``pre``: ``x`` is already ``linear(x, w_ih, b_ih)``)
def _tanh_step(x: Tensor, h: Tensor, p: _Params, pre: bool = False) -> Tensor:
    return linear(h, p.w_hh, p.b_hh).add_(x if pre else linear(x, p.w_ih, p.b_ih)).tanh()


def _relu_step(x: Tensor, h: Tensor, p: _Params, pre: bool = False) -> Tensor:
    return linear(h, p.w_hh, p.b_hh).add_(x if pre else linear(x, p.w_ih, p.b_ih)).relu()


def _lstm_step(x: Tensor, hidden: tuple, p: _Params, pre: bool = False) -> tuple:
    hx, cx = hidden
    gates = linear(hx, p.w_hh, p.b_hh).add_(x if pre else linear(x, p.w_ih, p.b_ih))
    i, f, g, o = gates.unsafe_chunk(4, 1)
    i, f, g, o = i.sigmoid_(), f.sigmoid_(), g.tanh_(), o.sigmoid_()
    cy = (f * cx).add_(i * g)
    hy = o * cy.tanh()
    if p.w_hr is not None:
        hy = hy.matmul(p.w_hr.t())
    return hy, cy


def _gru_step(x: Tensor, h: Tensor, p: _Params, pre: bool = False) -> Tensor:
    ir, ii, in_ = (x if pre else linear(x, p.w_ih, p.b_ih)).unsafe_chunk(3, 1)
    hr, hi, hn = linear(h, p.w_hh, p.b_hh).unsafe_chunk(3, 1)
    reset = hr.add_(ir).sigmoid_()
    update = hi.add_(ii).sigmoid_()
    new = in_.add(hn.mul_(reset)).tanh_()
    return (h - new).mul_(update).add_(new)


def _cell_arguments(name: str, input, hx, w_ih, w_hh, b_ih, b_hh, hx_list: bool = False) -> None:
    _check_tensors(name, ("input", 1, input, False), ("hx", 2, hx, "list" if hx_list else False),
                   ("w_ih", 3, w_ih, False), ("w_hh", 4, w_hh, False), ("b_ih", 5, b_ih, True),
                   ("b_hh", 6, b_hh, True))


@public_function("rnn_tanh_cell")
def rnn_tanh_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None,
                  b_hh: Optional[Tensor] = None) -> Tensor:
    """One step of an Elman RNN with tanh: ``tanh(x w_ih^T + b_ih + h w_hh^T + b_hh)``."""
    _cell_arguments("rnn_tanh_cell", input, hx, w_ih, w_hh, b_ih, b_hh)
    _check_weights(1, w_ih, w_hh, w_hh.size(1))
    _check_input(input, w_ih.size(1))
    _check_hidden(input, hx, w_hh.size(1), 0)
    return _tanh_step(input, hx, _Params(w_ih, w_hh, b_ih, b_hh))


@public_function("rnn_relu_cell")
def rnn_relu_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None,
                  b_hh: Optional[Tensor] = None) -> Tensor:
    """One step of an Elman RNN with ReLU: ``relu(x w_ih^T + b_ih + h w_hh^T + b_hh)``."""
    _cell_arguments("rnn_relu_cell", input, hx, w_ih, w_hh, b_ih, b_hh)
    _check_weights(1, w_ih, w_hh, w_hh.size(1))
    _check_input(input, w_ih.size(1))
    _check_hidden(input, hx, w_hh.size(1), 0)
    return _relu_step(input, hx, _Params(w_ih, w_hh, b_ih, b_hh))


@public_function("lstm_cell")
def lstm_cell(input: Tensor, hx: Sequence[Tensor], w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None,
              b_hh: Optional[Tensor] = None) -> tuple:
    """One step of an LSTM: ``(h', c')`` from ``hx = (h, c)``, the gates in the order input, forget,
    cell, output."""
    _cell_arguments("lstm_cell", input, hx, w_ih, w_hh, b_ih, b_hh, hx_list=True)
    if len(hx) != 2:
        raise RuntimeError("lstm_cell expects two hidden states")
    hidden_size = w_hh.size(1)
    _check_input(input, w_ih.size(1))
    _check_weights(4, w_ih, w_hh, hidden_size)
    _check_hidden(input, hx[0], hidden_size, 0)
    _check_hidden(input, hx[1], hidden_size, 1)
    return _lstm_step(input, (hx[0], hx[1]), _Params(w_ih, w_hh, b_ih, b_hh))


@public_function("gru_cell")
def gru_cell(input: Tensor, hx: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Optional[Tensor] = None,
             b_hh: Optional[Tensor] = None) -> Tensor:
    """One step of a GRU, the gates in the order reset, update, new."""
    _cell_arguments("gru_cell", input, hx, w_ih, w_hh, b_ih, b_hh)
    _check_input(input, w_ih.size(1))
    _check_hidden(input, hx, w_hh.size(1), 0)
    _check_weights(3, w_ih, w_hh, w_hh.size(1))
    return _gru_step(input, hx, _Params(w_ih, w_hh, b_ih, b_hh))


# --- layers (PyTorch's FullLayer, FullBidirectionalLayer, PackedLayer, ReversedPackedLayer) -----------
def _output(hidden):
    return hidden[0] if isinstance(hidden, tuple) else hidden


def _slice(hidden, start: int, end: int):
    if isinstance(hidden, tuple):
        return tuple(h.narrow(0, start, end - start) for h in hidden)
    return hidden.narrow(0, start, end - start)


def _concat(hiddens: list):
    if isinstance(hiddens[0], tuple):
        return tuple(cat([h[k] for h in hiddens], 0) for k in range(len(hiddens[0])))
    return cat(hiddens, 0)


def _steps(step: Callable, inputs: Sequence[Tensor], hidden, p: _Params) -> tuple:
    outputs = []
    for x in inputs:
        hidden = step(x, hidden, p, True)
        outputs.append(_output(hidden))
    if not outputs:
        raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
    return outputs, hidden


def _full_layer(step: Callable, input: Tensor, hidden, p: _Params) -> tuple:
    outputs, hidden = _steps(step, linear(input, p.w_ih, p.b_ih).unbind(0), hidden, p)
    return stack(outputs, 0), hidden


def _bidirectional_layer(step: Callable, input: Tensor, hidden: tuple, p: tuple) -> tuple:
    forward, fw_hidden = _full_layer(step, input, hidden[0], p[0])
    outputs, rev_hidden = _steps(step, linear(input, p[1].w_ih, p[1].b_ih).unbind(0)[::-1], hidden[1], p[1])
    backward = stack(outputs[::-1], 0)
    return cat([forward, backward], forward.dim() - 1), (fw_hidden, rev_hidden)


def _packed_layer(step: Callable, data: Tensor, batch_sizes: list, hidden, p: _Params) -> tuple:
    projected = linear(data, p.w_ih, p.b_ih)
    outputs, finished = [], []
    offset, last = 0, batch_sizes[0]
    for size in batch_sizes:
        x = projected.narrow(0, offset, size)
        offset += size
        if last > size:
            # the sequences that ended: their final state kept, the running state narrowed
            finished.append(_slice(hidden, size, last))
            hidden = _slice(hidden, 0, size)
        last = size
        hidden = step(x, hidden, p, True)
        outputs.append(_output(hidden))
    finished.append(hidden)
    return cat(outputs, 0), _concat(finished[::-1])


def _reversed_packed_layer(step: Callable, data: Tensor, batch_sizes: list, initial, p: _Params) -> tuple:
    projected = linear(data, p.w_ih, p.b_ih)
    outputs = []
    offset, last = data.size(0), batch_sizes[-1]
    hidden = _slice(initial, 0, last)
    for size in batch_sizes[::-1]:
        if size > last:
            # the sequences that start here join with their initial state
            hidden = _concat([hidden, _slice(initial, last, size)])
        x = projected.narrow(0, offset - size, size)
        offset -= size
        last = size
        hidden = step(x, hidden, p, True)
        outputs.append(_output(hidden))
    return cat(outputs[::-1], 0), hidden


def _packed_bidirectional_layer(step: Callable, data: Tensor, batch_sizes: list, hidden: tuple, p: tuple) -> tuple:
    forward, fw_hidden = _packed_layer(step, data, batch_sizes, hidden[0], p[0])
    backward, rev_hidden = _reversed_packed_layer(step, data, batch_sizes, hidden[1], p[1])
    return cat([forward, backward], -1), (fw_hidden, rev_hidden)


def _gather(params: Sequence[Tensor], has_biases: bool, has_projections: bool = False) -> list:
    """PyTorch's ``gather_params``: the flat weights as one ``_Params`` per layer and direction."""
    n = (4 if has_biases else 2) + (1 if has_projections else 0)
    if len(params) % n:
        raise RuntimeError("got an incorrect number of RNN parameters")
    out = []
    for k in range(0, len(params), n):
        w = params[k:k + n]
        w_hr = w[-1] if has_projections else None
        out.append(_Params(w[0], w[1], w[2], w[3], w_hr) if has_biases else _Params(w[0], w[1], None, None, w_hr))
    return out


def _stack_layers(step: Callable, input, hiddens: list, params: list, num_layers: int, dropout_p: float,
                  train: bool, bidirectional: bool, batch_sizes: Optional[list]) -> tuple:
    """PyTorch's ``_rnn_impl``/``apply_layer_stack``: the last layer's output and each layer's (and
    direction's) final state, dropout between layers when training."""
    if bidirectional:
        if len(hiddens) % 2 or len(params) % 2:
            raise RuntimeError("Odd number of params or hiddens given to a bidirectional RNN")
        hiddens = list(zip(hiddens[::2], hiddens[1::2]))
        params = list(zip(params[::2], params[1::2]))
    if num_layers != len(hiddens):
        raise RuntimeError("Expected more hidden states in stacked_rnn")
    if num_layers != len(params):
        raise RuntimeError("Expected more weights in stacked_rnn")
    if batch_sizes is None:
        layer = _bidirectional_layer if bidirectional else _full_layer
    else:
        packed = _packed_bidirectional_layer if bidirectional else _packed_layer

        def layer(step, x, hidden, p):
            return packed(step, x, batch_sizes, hidden, p)
    finals = []
    for number in range(num_layers):
        input, final = layer(step, input, hiddens[number], params[number])
        finals.extend(final if bidirectional else (final,))
        if dropout_p != 0 and train and number < num_layers - 1:
            input = dropout(input, dropout_p, True)
    return input, finals


_TAIL = ("tuple of Tensors params, bool has_biases, int num_layers, float dropout, bool train, "
         "bool bidirectional")


class _Form(NamedTuple):
    """The arguments of either overload of ``torch.rnn_tanh``/``rnn_relu``/``gru``/``lstm``."""
    input: Tensor
    batch_sizes: Optional[list]
    hx: object
    params: Sequence[Tensor]
    has_biases: bool
    num_layers: int
    dropout: float
    train: bool
    bidirectional: bool
    batch_first: bool


_FORMS = {name: Forms(name, f"(Tensor data, Tensor batch_sizes, {hx} hx, {_TAIL})",
                      f"(Tensor input, {hx} hx, {_TAIL}, bool batch_first)")
          for name, hx in (("rnn_tanh", "Tensor"), ("rnn_relu", "Tensor"), ("gru", "Tensor"),
                           ("lstm", "tuple of Tensors"))}


def _form(name: str, args: tuple, kwargs: dict) -> _Form:
    """The arguments of a call, by the overload it matches (PyTorch's parser's error if none)."""
    form, v = _FORMS[name].parse(args, kwargs)
    packed = form == 0
    return _Form(v["data"] if packed else v["input"],
                 [int(b) for b in v["batch_sizes"].tolist()] if packed else None, v["hx"], v["params"],
                 bool(v["has_biases"]), int(v["num_layers"]), float(v["dropout"]), bool(v["train"]),
                 bool(v["bidirectional"]), bool(v.get("batch_first", False)))


def _one_hidden(name: str, step: Callable, args: tuple, kwargs: dict) -> tuple:
    f = _form(name, args, kwargs)
    input = f.input.transpose(0, 1) if f.batch_first else f.input
    output, finals = _stack_layers(step, input, list(f.hx.unbind(0)), _gather(f.params, f.has_biases), f.num_layers,
                                   f.dropout, f.train, f.bidirectional, f.batch_sizes)
    if f.batch_first:
        output.transpose_(0, 1)
    return output, stack(finals, 0)


@public_function("rnn_tanh")
def rnn_tanh(*args, **kwargs) -> tuple:
    """A multi-layer Elman RNN with tanh over a sequence: ``(output, h_n)``.  Called as
    ``rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)``
    or, over a packed sequence, ``rnn_tanh(data, batch_sizes, hx, params, has_biases, num_layers,
    dropout, train, bidirectional)``."""
    return _one_hidden("rnn_tanh", _tanh_step, args, kwargs)


@public_function("rnn_relu")
def rnn_relu(*args, **kwargs) -> tuple:
    """A multi-layer Elman RNN with ReLU over a sequence: ``(output, h_n)`` (the forms of :func:`rnn_tanh`)."""
    return _one_hidden("rnn_relu", _relu_step, args, kwargs)


@public_function("gru")
def gru(*args, **kwargs) -> tuple:
    """A multi-layer GRU over a sequence: ``(output, h_n)`` (the forms of :func:`rnn_tanh`)."""
    return _one_hidden("gru", _gru_step, args, kwargs)


@public_function("lstm")
def lstm(*args, **kwargs) -> tuple:
    """A multi-layer LSTM over a sequence: ``(output, h_n, c_n)``, ``hx`` the pair ``(h_0, c_0)``
    (with projections when ``h_0``'s last dim is smaller than ``c_0``'s).  Called as ``lstm(input,
    hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)`` or, over a
    packed sequence, ``lstm(data, batch_sizes, hx, params, has_biases, num_layers, dropout, train,
    bidirectional)``."""
    f = _form("lstm", args, kwargs)
    if len(f.hx) != 2:
        raise RuntimeError("lstm expects two hidden states")
    h0, c0 = f.hx
    params = _gather(f.params, f.has_biases, h0.size(2) != c0.size(2))
    input = f.input.transpose(0, 1) if f.batch_first else f.input
    output, finals = _stack_layers(_lstm_step, input, list(zip(h0.unbind(0), c0.unbind(0))), params, f.num_layers,
                                   f.dropout, f.train, f.bidirectional, f.batch_sizes)
    if f.batch_first:
        output = output.transpose(0, 1)
    return output, stack([h for h, _ in finals], 0), stack([c for _, c in finals], 0)


# --- packing (``torch._pack_padded_sequence``, ``torch._pad_packed_sequence``) --------------------------------
PACK = PYTHON.start + 160


def _pack_backward(g: Tensor, input_sizes: tuple, batch_sizes: list, batch_first: bool) -> Tensor:
    """PyTorch's ``_pack_padded_sequence_backward``: each step's rows of ``g`` back at their place in
    the padded ``(T, B, *)`` input (zeros elsewhere)."""
    sizes = (input_sizes[1], input_sizes[0]) + tuple(input_sizes[2:]) if batch_first else tuple(input_sizes)
    steps, offset = [], 0
    rest = tuple(sizes[2:])
    for size in batch_sizes:
        part = g.narrow(0, offset, size)
        if size < sizes[1]:
            part = cat([part, g.new_zeros((sizes[1] - size,) + rest)], 0)
        steps.append(part)
        offset += size
    out = stack(steps, 0)
    if len(batch_sizes) < sizes[0]:
        out = cat([out, g.new_zeros((sizes[0] - len(batch_sizes),) + tuple(sizes[1:]))], 0)
    return out.transpose(0, 1) if batch_first else out


def _pack_vjp(g, xs, y, r):
    saved = dict(r.tape.args[r.r])
    return (_pack_backward(g, saved["input_sym_sizes"], saved["result1"].tolist(), saved["batch_first"]),)


def _pack(x: Tensor, batch_sizes: list) -> Tensor:
    """The packed steps of the time-major ``x`` (tape ops: a tangent's pack)."""
    return cat([x[t].narrow(0, 0, size) for t, size in enumerate(batch_sizes) if t < x.size(0)], 0)


def _pack_jvp(ts, xs, y, r):
    saved = dict(r.tape.args[r.r])
    t = ts[0].transpose(0, 1) if saved["batch_first"] else ts[0]
    return _pack(t, saved["result1"].tolist())


register(Op(PACK, "_pack_padded_sequence", "PackPaddedSequenceBackward0", 0, _pack_vjp, py_adjoint=rule_adjoint,
            arity=1))
tangents({PACK: _pack_jvp})


@public_function("_pack_padded_sequence")
def _pack_padded_sequence(input: Tensor, lengths: Tensor, batch_first: bool) -> tuple:
    """The steps of the padded ``input`` of sequences sorted by decreasing ``lengths``, one time step
    after the other, and the number of sequences at each step: ``(data, batch_sizes)``."""
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    x = input.transpose(0, 1) if batch_first else input
    if lengths.dtype is not D.int64 or lengths.dim() != 1:
        kind = lengths.type().replace("torch.", "").replace("Tensor", "")
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.dim()}D cpu "
                           f"{kind} tensor")
    lens = [int(n) for n in lengths.tolist()]
    batch_size = x.size(1)
    if len(lens) != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lens)} "
                           f"(batch_size={batch_size})")
    if lens[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if any(a < b for a, b in zip(lens, lens[1:])):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. You "
                           "can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                           "sidestep this requirement if you do not need ONNX exportability.")
    # step t holds the sequences longer than t: the first batch_sizes[t] of the batch
    steps = min(lens[0], x.size(0))
    sizes = [sum(1 for n in lens if n > t) for t in range(lens[0])]
    value = x._value()
    data = np.concatenate([value[t, :sizes[t]] for t in range(steps)], 0) if steps else value[:0, 0]
    data = np.ascontiguousarray(data)
    batch_sizes = plain(np.asarray(sizes, np.int64), D.int64)
    if not (input._rg and state.grad):
        return plain(data, input._dtype), batch_sizes
    out = emit(PACK, data, input._dtype, input, ia=int(batch_first))
    out._tape.args[out._node] = (("batch_first", bool(batch_first)), ("input_sym_sizes", tuple(input.shape)),
                                 ("result1", batch_sizes))
    return out, batch_sizes


@public_function("_pad_packed_sequence")
def _pad_packed_sequence(data: Tensor, batch_sizes: Tensor, batch_first: bool, padding_value: float,
                         total_length: int) -> tuple:
    """The packed ``data`` back as a padded ``(T, B, *)`` tensor (``(B, T, *)`` if ``batch_first``;
    ``T`` at least ``total_length``) and each sequence's length."""
    sizes = [int(n) for n in batch_sizes.tolist()]
    max_batch_size, max_real_seq_length = sizes[0], len(sizes)
    max_seq_length = max_real_seq_length
    if total_length > 0:
        if total_length < max_seq_length:
            raise RuntimeError(f"Expected total_length to be at least the length of the longest sequence in input, "
                               f"but got total_length={total_length} and max sequence length being {max_seq_length}")
        max_seq_length = total_length
    output = data.new_full((max_seq_length, max_batch_size) + tuple(data.shape[1:]), padding_value)
    lengths = [0] * max_batch_size
    offset, prev_batch_size, prev_i = 0, max_batch_size, 0
    for i in range(max_real_seq_length + 1):
        batch_size = sizes[i] if i != max_real_seq_length else 0
        if batch_size != prev_batch_size:
            # the steps since prev_i, each of prev_batch_size sequences, as one block
            n = prev_batch_size * (i - prev_i)
            block = data.narrow(0, offset, n).view((i - prev_i, prev_batch_size) + tuple(data.shape[1:]))
            output.narrow(0, prev_i, i - prev_i).narrow(1, 0, prev_batch_size).copy_(block)
            offset += n
            prev_i = i
        for j in range(batch_size, prev_batch_size):
            lengths[j] = i
        prev_batch_size = batch_size
    if batch_first:
        output = output.transpose(0, 1)
    return output, plain(np.asarray(lengths, np.int64), D.int64)
