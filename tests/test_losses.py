"""The loss functions of tape.nn.functional (ops/losses.py): values, nodes, warnings, errors, gradients
to the third order; and a comparison with PyTorch's, case by case."""
import warnings

import numpy as np
import pytest

import tape
import tape.nn.functional as F

X = [[0.5, -2.0, 1.25], [3.0, 0.0, -0.75]]
T = [[1.0, 0.5, 1.0], [-1.0, 0.25, -0.5]]


def _pair(dtype=tape.float64):
    return tape.tensor(X, dtype=dtype, requires_grad=True), tape.tensor(T, dtype=dtype, requires_grad=True)


def _checks(fn, *inputs):
    """gradcheck, gradgradcheck and a third order (the gradgradcheck of a first derivative) in float64."""
    assert tape.autograd.gradcheck(fn, inputs)
    assert tape.autograd.gradgradcheck(fn, inputs)

    def first(*xs):
        return tape.autograd.grad(fn(*xs).sum(), xs[0], create_graph=True)[0]
    assert tape.autograd.gradgradcheck(first, inputs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pointwise_values_and_nodes(reduction):
    x, t = _pair()
    d = np.array(X) - np.array(T)
    a = np.abs(d)
    expected = {"mse_loss": (d * d, "MseLossBackward0"),
                "l1_loss": (a, {"mean": "MeanBackward0", "sum": "SumBackward0", "none": "AbsBackward0"}[reduction]),
                "smooth_l1_loss": (np.where(a < 1, 0.5 * d * d, a - 0.5), "SmoothL1LossBackward0"),
                "huber_loss": (np.where(a < 1, 0.5 * d * d, a - 0.5), "HuberLossBackward0")}
    for name, (loss, node) in expected.items():
        y = getattr(F, name)(x, t, reduction=reduction)
        want = loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss
        assert np.allclose(y.detach().numpy(), want), name
        assert y.grad_fn.name() == node, name
    y = F.soft_margin_loss(x, t.detach(), reduction=reduction)
    loss = np.log1p(np.exp(-np.array(X) * np.array(T)))
    assert np.allclose(y.detach().numpy(), loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum"
                       else loss)
    assert y.grad_fn.name() == "SoftMarginLossBackward0" and len(y.grad_fn.next_functions) == 1


def test_beta_and_delta():
    x, t = _pair()
    d = np.array(X) - np.array(T)
    a = np.abs(d)
    y = F.smooth_l1_loss(x, t, reduction="none", beta=2.0)
    assert np.allclose(y.detach().numpy(), np.where(a < 2, 0.25 * d * d, a - 1.0))
    assert y.grad_fn._saved_beta == 2.0 and y.grad_fn._saved_reduction == 0
    y = F.huber_loss(x, t, reduction="sum", delta=0.5)
    assert np.allclose(y.item(), np.where(a < 0.5, 0.5 * d * d, 0.5 * (a - 0.25)).sum())
    assert y.grad_fn._saved_delta == 0.5 and y.grad_fn._saved_target is t
    assert F.smooth_l1_loss(x, t, beta=0.0).grad_fn.name() == "MeanBackward0"      # (the L1 loss)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "soft_margin_loss"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_pointwise_gradients_to_third_order(name, reduction):
    x, t = _pair()
    if name == "soft_margin_loss":
        _checks(lambda x: F.soft_margin_loss(x, t.detach(), reduction=reduction), x)
    else:
        _checks(lambda x, t: getattr(F, name)(x, t, reduction=reduction), x, t)


def test_float32_and_weights():
    x, t = _pair(tape.float32)
    for name in ("mse_loss", "smooth_l1_loss", "huber_loss", "l1_loss"):
        y = getattr(F, name)(x, t)
        assert y.dtype == tape.float32
        y.backward()
    assert x.grad.dtype == tape.float32
    w = tape.tensor([[1.0, 2.0, 0.5], [0.0, 1.0, 3.0]])
    y = F.mse_loss(x, t, weight=w)
    d = np.array(X) - np.array(T)
    assert np.isclose(y.item(), (d * d * w.numpy()).sum() / w.numpy().sum())
    assert y.grad_fn.name() == "DivBackward0"
    assert F.huber_loss(x, t, weight=w).grad_fn.name() == "MeanBackward0"
    with pytest.raises(ValueError, match=r"^Weights and input must have the same size\.$"):
        F.l1_loss(x, t, weight=w[0])
    with pytest.raises(ValueError, match=r"^Invalid reduction mode: avg\. Expected one of 'none', 'mean', 'sum'\.$"):
        F.mse_loss(x, t, weight=w, reduction="avg")


def test_reduction_arguments_and_their_warnings():
    x, t = _pair()
    with pytest.raises(ValueError, match=r"^avg is not a valid value for reduction$"):
        F.mse_loss(x, t, reduction="avg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        summed = F.mse_loss(x, t, size_average=False)
        unreduced = F.l1_loss(x, t, reduce=False)
        mean = F.smooth_l1_loss(x, t, reduction="elementwise_mean")
    assert [str(w.message) for w in caught] == [
        "size_average and reduce args will be deprecated, please use reduction='sum' instead.",
        "size_average and reduce args will be deprecated, please use reduction='none' instead.",
        "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead."]
    assert all(w.filename == __file__ for w in caught)
    assert summed.grad_fn._saved_reduction == 2 and unreduced.shape == (2, 3) and mean.grad_fn._saved_reduction == 1


def test_target_size_warning_and_broadcast():
    x, t = _pair()
    t0 = t[0].detach().requires_grad_()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = F.mse_loss(x, t0, reduction="none")
    assert [str(w.message) for w in caught] == [
        "Using a target size (torch.Size([3])) that is different to the input size (torch.Size([2, 3])). This will "
        "likely lead to incorrect results due to broadcasting. Please ensure they have the same size."]
    assert caught[0].filename == __file__
    assert y.shape == (2, 3) and y.grad_fn.next_functions[1][0].name() == "ExpandBackward0"
    y.sum().backward()
    assert np.allclose(t0.grad.numpy(), (-2 * (np.array(T)[0] - np.array(X))).sum(0) * -1)
    with pytest.warns(UserWarning), pytest.raises(RuntimeError, match="must match the size"):
        F.l1_loss(x, tape.zeros(4))


def test_errors():
    x, t = _pair()
    with pytest.raises(RuntimeError, match=r"^smooth_l1_loss does not support negative values for beta\.$"):
        F.smooth_l1_loss(x, t, beta=-1.0)
    with pytest.raises(RuntimeError, match=r"^huber_loss does not support non-positive values for delta\.$"):
        F.huber_loss(x, t, delta=0.0)
    with pytest.raises(RuntimeError, match=r"^The function 'soft_margin_loss' is not differentiable with respect to "
                       r"argument 'target'\. This input cannot have requires_grad True\.$"):
        F.soft_margin_loss(x, t)
    with tape.no_grad():
        F.soft_margin_loss(x, t)
    with pytest.raises(NotImplementedError, match=r"^\"mse_cpu\" not implemented for 'Long'$"):
        F.mse_loss(tape.tensor([1, 2]), tape.tensor([2, 2]))
    with pytest.raises(AttributeError, match="'float' object has no attribute 'size'"):
        F.mse_loss(x, 1.0)


def test_integer_target_promotes_and_empty_mean_is_nan():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = F.mse_loss(x, tape.tensor([0, 4]))
    assert y.dtype == tape.float32 and y.item() == 2.5 and len(y.grad_fn.next_functions) == 2
    e = tape.zeros(0, requires_grad=True)
    assert np.isnan(F.mse_loss(e, e.detach()).item()) and F.mse_loss(e, e.detach(), reduction="sum").item() == 0


def test_nll_loss_values_weights_and_nodes():
    x = tape.tensor(X, dtype=tape.float64, requires_grad=True)
    w = tape.tensor([0.5, 2.0, 4.0], dtype=tape.float64)
    y = F.nll_loss(x, tape.tensor([2, 1]), w)
    assert np.isclose(y.item(), -(4.0 * 1.25 + 2.0 * 0.0) / 6.0) and y.grad_fn.name() == "NllLossBackward0"
    y.backward()
    assert x.grad.tolist() == [[0.0, 0.0, -4.0 / 6.0], [0.0, -2.0 / 6.0, 0.0]]
    y = F.nll_loss(x, tape.tensor([2, -100]), w, reduction="none")
    assert y.tolist() == [-5.0, 0.0] and y.grad_fn._saved_ignore_index == 2 ** 64 - 100
    assert np.isnan(F.nll_loss(x, tape.tensor([1, 1]), ignore_index=1).item())
    assert F.nll_loss(x[0], tape.tensor(1)).item() == 2.0
    images = tape.zeros(2, 3, 2, 2, requires_grad=True)
    assert F.nll_loss(images, tape.zeros(2, 2, 2, dtype=tape.int64)).grad_fn.name() == "NllLoss2DBackward0"
    y = F.nll_loss(tape.zeros(2, 3, 4, requires_grad=True), tape.zeros(2, 4, dtype=tape.int64), reduction="none")
    assert y.shape == (2, 4) and y.grad_fn.name() == "ViewBackward0"
    assert y.grad_fn.next_functions[0][0].name() == "NllLoss2DBackward0"
    assert y.grad_fn.next_functions[0][0].next_functions[0][0].name() == "ViewBackward0"


def test_cross_entropy_nodes_and_values():
    x = tape.tensor(X, dtype=tape.float64, requires_grad=True)
    logp = np.array(X) - np.log(np.exp(np.array(X)).sum(1, keepdims=True))
    y = F.cross_entropy(x, tape.tensor([2, 0]))
    assert np.isclose(y.item(), -(logp[0, 2] + logp[1, 0]) / 2)
    assert y.grad_fn.name() == "NllLossBackward0" and y.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"
    p = tape.tensor([[0.25, 0.25, 0.5], [1.0, 0.0, 0.0]], dtype=tape.float64)
    y = F.cross_entropy(x, p)
    assert np.isclose(y.item(), -(logp * p.numpy()).sum() / 2) and y.grad_fn.name() == "DivBackward1"
    y = F.cross_entropy(x, tape.tensor([2, 0]), label_smoothing=0.3)
    smooth = -(logp.sum(1)).mean()
    assert np.isclose(y.item(), 0.7 * -(logp[0, 2] + logp[1, 0]) / 2 + 0.1 * smooth)
    assert y.grad_fn.name() == "AddBackward0"
    assert [f.name() for f, _ in y.grad_fn.next_functions] == ["MulBackward1", "MulBackward1"]


def test_nll_and_cross_entropy_errors():
    x = tape.tensor(X, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"^expected target dtype to be Long or Byte, but got Float$"):
        F.nll_loss(x, tape.tensor([0.0, 1.0]))
    with pytest.raises(IndexError, match=r"^Target 3 is out of bounds\.$"):
        F.cross_entropy(x, tape.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"^Expected input batch_size \(2\) to match target batch_size \(3\)\.$"):
        F.nll_loss(x, tape.tensor([0, 1, 1]))
    with pytest.raises(RuntimeError, match=r"^weight tensor should be defined either for all 3 classes or no classes "
                       r"but got weight tensor of shape: \[2\]$"):
        F.nll_loss(x, tape.tensor([0, 1]), tape.ones(2))
    with pytest.raises(RuntimeError, match=r"^label_smoothing must be between 0\.0 and 1\.0\. Got: 1\.5$"):
        F.cross_entropy(x, tape.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match=r"^ignore_index is not supported for floating point target$"):
        F.cross_entropy(x, x.detach(), ignore_index=0)
    with pytest.raises(RuntimeError, match=r"^The function 'nll_loss_forward' is not differentiable with respect to "
                       r"argument 'weight'\. This input cannot have requires_grad True\.$"):
        F.nll_loss(x, tape.tensor([0, 1]), tape.ones(3, requires_grad=True))


@pytest.mark.parametrize("case", ["nll", "indices", "smoothing-weight", "probabilities"])
def test_nll_and_cross_entropy_gradients_to_third_order(case):
    x = tape.tensor(X, dtype=tape.float64, requires_grad=True)
    t = tape.tensor([2, -100])
    w = tape.tensor([0.5, 2.0, 4.0], dtype=tape.float64)
    p = tape.tensor([[0.25, 0.25, 0.5], [0.5, 0.0, 0.5]], dtype=tape.float64, requires_grad=True)
    fns = {"nll": (lambda x: F.nll_loss(x, t, w, reduction="sum"), (x,)),
           "indices": (lambda x: F.cross_entropy(x, tape.tensor([2, 0]), reduction="none"), (x,)),
           "smoothing-weight": (lambda x: F.cross_entropy(x, t, w, label_smoothing=0.2), (x,)),
           "probabilities": (lambda x, p: F.cross_entropy(x, p, label_smoothing=0.1), (x, p))}
    fn, inputs = fns[case]
    _checks(fn, *inputs)


def test_binary_cross_entropy_values_nodes_errors():
    p = tape.tensor([[0.25, 0.5], [0.0, 1.0]], dtype=tape.float64, requires_grad=True)
    t = tape.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=tape.float64)
    y = F.binary_cross_entropy(p, t, reduction="none")
    assert np.allclose(y.detach().numpy(), [[np.log(4.0), np.log(2.0)], [100.0, 0.0]])      # (logs at least -100)
    assert y.grad_fn.name() == "BinaryCrossEntropyBackward0" and len(y.grad_fn.next_functions) == 2
    w = tape.tensor([2.0, 0.5], dtype=tape.float64)
    assert np.isclose(F.binary_cross_entropy(p, t, w, reduction="sum").item(), 2 * np.log(4) + 0.5 * np.log(2) + 200)
    with pytest.raises(RuntimeError, match=r"^all elements of input should be between 0 and 1$"):
        F.binary_cross_entropy(p * 2, t)
    with pytest.raises(ValueError, match=r"^Using a target size \(torch.Size\(\[2\]\)\) that is different to the "
                       r"input size \(torch.Size\(\[2, 2\]\)\) is deprecated\. Please ensure they have the same size\.$"):
        F.binary_cross_entropy(p, t[0])
    x = tape.tensor([[-800.0, 0.0], [3.0, 800.0]], dtype=tape.float64, requires_grad=True)
    y = F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=tape.tensor([3.0, 1.0], dtype=tape.float64))
    assert np.allclose(y.detach().numpy(), [[2400.0, np.log(2.0)], [3 * np.log1p(np.exp(-3.0)), 0.0]])
    assert y.grad_fn.name() == "BinaryCrossEntropyWithLogitsBackward0"
    with pytest.raises(ValueError, match=r"^Target size \(torch.Size\(\[2\]\)\) must be the same as input size "):
        F.binary_cross_entropy_with_logits(x, t[0])


@pytest.mark.parametrize("logits", [False, True])
def test_binary_cross_entropy_gradients_to_third_order(logits):
    x = tape.tensor([[0.2, 0.6, 0.9], [0.4, 0.5, 0.3]], dtype=tape.float64, requires_grad=True)
    t = tape.tensor([[0.1, 0.3, 0.95], [0.5, 0.5, 0.8]], dtype=tape.float64, requires_grad=True)
    w = tape.tensor([1.0, 2.0, 0.5], dtype=tape.float64)
    if logits:
        _checks(lambda x, t: F.binary_cross_entropy_with_logits(x, t, w, pos_weight=w * 3), x, t)
    else:
        _checks(lambda x, t: F.binary_cross_entropy(x, t, w, reduction="none"), x, t)


def test_compositions_values_and_nodes():
    x = tape.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=tape.float64, requires_grad=True)
    p = tape.tensor([[0.5, 0.5], [0.0, 1.0]], dtype=tape.float64)
    y = F.kl_div(x, p, reduction="batchmean")
    assert np.isclose(y.item(), (0.5 * (np.log(0.5) + 1) + 0.5 * (np.log(0.5) + 2) + 3.0) / 2)
    assert y.grad_fn.name() == "DivBackward0"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        F.kl_div(x, p)
    assert "'batchmean' divides only by the batch size" in str(caught[0].message) and caught[0].filename == __file__
    a, b = tape.tensor([1.0, 2.0], requires_grad=True), tape.tensor([2.0, 0.0])
    y = F.margin_ranking_loss(a, b, tape.tensor([1.0, -1.0]), margin=0.5, reduction="none")
    assert y.tolist() == [1.5, 2.5] and y.grad_fn.name() == "ClampMinBackward0"
    with pytest.raises(RuntimeError, match=r"^margin_ranking_loss : All input tensors should have same dimension"):
        F.margin_ranking_loss(a, b, tape.tensor(1.0))
    y = F.poisson_nll_loss(a, tape.tensor([1.0, 3.0]), reduction="sum")
    assert np.isclose(y.item(), np.exp(1) - 1 + np.exp(2) - 6)
    y = F.gaussian_nll_loss(a, b, tape.tensor([1.0, 4.0]), reduction="sum")
    assert np.isclose(y.item(), 0.5 * (0 + 1) + 0.5 * (np.log(4) + 1))
    with pytest.raises(ValueError, match=r"^var has negative entry/entries$"):
        F.gaussian_nll_loss(a, b, -1.0)


@pytest.mark.parametrize("name", ["kl_div", "kl_div_log_target", "margin_ranking_loss", "poisson_nll_loss",
                                  "gaussian_nll_loss"])
def test_compositions_gradients_to_third_order(name):
    x = tape.tensor([[-1.0, -2.0], [-0.5, -3.0]], dtype=tape.float64, requires_grad=True)
    t = tape.tensor([[0.25, 0.75], [0.4, 0.6]], dtype=tape.float64, requires_grad=True)
    fns = {"kl_div": lambda x, t: F.kl_div(x, t, reduction="batchmean"),
           "kl_div_log_target": lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
           "margin_ranking_loss": lambda x, t: F.margin_ranking_loss(x, t, -t.detach().sign(), 0.5),
           "poisson_nll_loss": lambda x, t: F.poisson_nll_loss(x, t, full=True),
           "gaussian_nll_loss": lambda x, t: F.gaussian_nll_loss(x, t, t * t, reduction="sum")}
    _checks(fns[name], x, t)


# --- against PyTorch ------------------------------------------------------------------------
R = np.random.default_rng(7)
A = R.normal(size=(3, 4)) * 2
B = R.normal(size=(3, 4)) * 2
W = np.abs(R.normal(size=(3, 4)))
S = np.sign(R.normal(size=(3, 4)))

# (id, fn(F, *tensors), arrays, which require grad)
CASES = []
for _name in ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"):
    for _red in ("mean", "sum", "none"):
        CASES.append((f"{_name}-{_red}", lambda F, a, b, n=_name, r=_red: getattr(F, n)(a, b, reduction=r),
                      (A, B), (True, True)))
    CASES.append((f"{_name}-broadcast", lambda F, a, b, n=_name: getattr(F, n)(a, b), (A, B[0]), (True, True)))
    CASES.append((f"{_name}-bad-reduction", lambda F, a, b, n=_name: getattr(F, n)(a, b, reduction="x"), (A, B),
                  (True, False)))
    CASES.append((f"{_name}-bad-broadcast", lambda F, a, b, n=_name: getattr(F, n)(a, b), (A, B[:, :3]),
                  (True, False)))
    if _name != "smooth_l1_loss":
        for _red in ("mean", "sum", "none"):
            CASES.append((f"{_name}-weight-{_red}",
                          lambda F, a, b, w, n=_name, r=_red: getattr(F, n)(a, b, weight=w, reduction=r),
                          (A, B, W), (True, True, False)))
CASES += [
    ("smooth_l1_loss-beta", lambda F, a, b: F.smooth_l1_loss(a, b, beta=0.5), (A, B), (True, True)),
    ("smooth_l1_loss-beta0", lambda F, a, b: F.smooth_l1_loss(a, b, beta=0.0), (A, B), (True, True)),
    ("smooth_l1_loss-negative-beta", lambda F, a, b: F.smooth_l1_loss(a, b, beta=-0.5), (A, B), (True, True)),
    ("huber_loss-delta", lambda F, a, b: F.huber_loss(a, b, reduction="sum", delta=2.5), (A, B), (True, True)),
    ("huber_loss-zero-delta", lambda F, a, b: F.huber_loss(a, b, delta=0), (A, B), (True, True)),
    ("mse_loss-size-average", lambda F, a, b: F.mse_loss(a, b, size_average=False), (A, B), (True, True)),
    ("l1_loss-reduce", lambda F, a, b: F.l1_loss(a, b, reduce=False), (A, B), (True, True)),
    ("soft_margin_loss", lambda F, a, b: F.soft_margin_loss(a, b), (A, S), (True, False)),
    ("soft_margin_loss-sum", lambda F, a, b: F.soft_margin_loss(a, b, reduction="sum"), (A, B), (True, False)),
    ("soft_margin_loss-none", lambda F, a, b: F.soft_margin_loss(a, b, reduction="none"), (A, S), (True, False)),
    ("soft_margin_loss-target-grad", lambda F, a, b: F.soft_margin_loss(a, b), (A, S), (True, True)),
]

X2 = R.normal(size=(3, 4))
X1, X3, X4, X5 = R.normal(size=4), R.normal(size=(2, 3, 4)), R.normal(size=(2, 3, 2, 2)), R.normal(size=(2, 3, 2, 1, 2))
T2, T2_IGNORED, T3, T4, T5 = (np.array(v) for v in ([0, 3, 1], [0, -100, 2], [[0, 2, 1, 1], [2, 2, 0, 1]],
                                                     [[[0, 2], [1, 1]], [[2, 0], [0, 1]]],
                                                     [[[[0, 2]]], [[[1, 1]]]]))
W4, W3 = np.abs(R.normal(size=4)) + 0.1, np.abs(R.normal(size=3)) + 0.1
P2 = np.exp(R.normal(size=(3, 4)))
P2 /= P2.sum(1, keepdims=True)
for _name in ("nll_loss", "cross_entropy"):
    for _red in ("mean", "sum", "none"):
        CASES += [
            (f"{_name}-{_red}", lambda F, a, t, n=_name, r=_red: getattr(F, n)(a, t, reduction=r), (X2, T2), (True, False)),
            (f"{_name}-weight-ignored-{_red}", lambda F, a, t, w, n=_name, r=_red: getattr(F, n)(a, t, w, reduction=r),
             (X2, T2_IGNORED, W4), (True, False, False)),
            (f"{_name}-1d-{_red}", lambda F, a, t, n=_name, r=_red: getattr(F, n)(a, t, reduction=r), (X1, np.array(2)),
             (True, False)),
            (f"{_name}-3d-{_red}", lambda F, a, t, n=_name, r=_red: getattr(F, n)(a, t, reduction=r), (X3, T3), (True, False)),
            (f"{_name}-4d-weight-{_red}", lambda F, a, t, w, n=_name, r=_red: getattr(F, n)(a, t, w, reduction=r),
             (X4, T4, W3), (True, False, False)),
            (f"{_name}-5d-{_red}", lambda F, a, t, n=_name, r=_red: getattr(F, n)(a, t, reduction=r), (X5, T5), (True, False)),
        ]
    CASES += [
        (f"{_name}-ignore-index", lambda F, a, t, n=_name: getattr(F, n)(a, t, ignore_index=3), (X2, T2), (True, False)),
        (f"{_name}-all-ignored", lambda F, a, t, n=_name: getattr(F, n)(a, t, ignore_index=0), (X2[:1], T2[:1]),
         (True, False)),
        # (values only: PyTorch's backward fails there, "size mismatch (got input: [4], target: [1])")
        (f"{_name}-1d-target-of-one", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X1, T2[:1]), (False, False)),
        (f"{_name}-1d-target-of-two", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X1, T2[:2]), (True, False)),
        (f"{_name}-0d-input", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X1[0], np.array(0)), (True, False)),
        (f"{_name}-float-target", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2, T2 * 1.0), (True, False)),
        (f"{_name}-int32-target", lambda F, a, t, n=_name: getattr(F, n)(a, t.int()), (X2, T2), (True, False)),
        (f"{_name}-uint8-target", lambda F, a, t, n=_name: getattr(F, n)(a, t.byte()), (X2, T2), (True, False)),
        (f"{_name}-batch-mismatch", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2, T2[:2]), (True, False)),
        (f"{_name}-target-2d", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2, T3[:, :3].T), (True, False)),
        (f"{_name}-out-of-bounds", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2, T2 + 1), (True, False)),
        (f"{_name}-negative-target", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2, T2 - 1), (True, False)),
        (f"{_name}-weight-size", lambda F, a, t, w, n=_name: getattr(F, n)(a, t, w), (X2, T2, W3), (True, False, False)),
        (f"{_name}-weight-size-4d", lambda F, a, t, w, n=_name: getattr(F, n)(a, t, w), (X4, T4, W4), (True, False, False)),
        (f"{_name}-weight-dtype", lambda F, a, t, w, n=_name: getattr(F, n)(a, t, w.double() if a.dtype != w.double().dtype
                                                                      else w.float()), (X2, T2, W4), (True, False, False)),
        (f"{_name}-weight-grad", lambda F, a, t, w, n=_name: getattr(F, n)(a, t, w), (X2, T2, W4), (True, False, True)),
        (f"{_name}-3d-target-size", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X3, T3[:, :3]), (True, False)),
        (f"{_name}-4d-target-dims", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X4, T3[:, :2]), (True, False)),
        (f"{_name}-4d-target-size", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X4, T4[:, :1]), (True, False)),
        (f"{_name}-size-average", lambda F, a, t, n=_name: getattr(F, n)(a, t, size_average=False), (X2, T2), (True, False)),
        (f"{_name}-bad-reduction", lambda F, a, t, n=_name: getattr(F, n)(a, t, reduction="avg"), (X2, T2), (True, False)),
        (f"{_name}-empty", lambda F, a, t, n=_name: getattr(F, n)(a, t), (X2[:0], T2[:0]), (True, False)),
    ]
CASES += [
    ("nll_loss-integer-input", lambda F, a, t: F.nll_loss(a.long(), t), (X2, T2), (False, False)),
    ("nll_loss-4d-integer-input", lambda F, a, t: F.nll_loss(a.long(), t), (X4, T4), (False, False)),
]
for _red in ("mean", "sum", "none"):
    CASES += [
        (f"cross_entropy-smoothing-{_red}", lambda F, a, t, r=_red: F.cross_entropy(a, t, reduction=r, label_smoothing=0.2),
         (X2, T2_IGNORED), (True, False)),
        (f"cross_entropy-smoothing-weight-{_red}",
         lambda F, a, t, w, r=_red: F.cross_entropy(a, t, w, reduction=r, label_smoothing=0.3), (X2, T2_IGNORED, W4),
         (True, False, False)),
        (f"cross_entropy-smoothing-3d-{_red}",
         lambda F, a, t, r=_red: F.cross_entropy(a, t, reduction=r, label_smoothing=0.1), (X3, T3), (True, False)),
        (f"cross_entropy-probabilities-{_red}", lambda F, a, p, r=_red: F.cross_entropy(a, p, reduction=r), (X2, P2),
         (True, True)),
        (f"cross_entropy-probabilities-weight-smoothing-{_red}",
         lambda F, a, p, w, r=_red: F.cross_entropy(a, p, w, reduction=r, label_smoothing=0.25), (X2, P2, W4),
         (True, False, False)),
        (f"cross_entropy-probabilities-3d-weight-{_red}",
         lambda F, a, p, w, r=_red: F.cross_entropy(a, p.softmax(1), w, reduction=r), (X4, X4 * 0.5, W3),
         (True, False, False)),
        (f"cross_entropy-probabilities-1d-{_red}", lambda F, a, p, r=_red: F.cross_entropy(a, p, reduction=r),
         (X1, P2[0]), (True, False)),
    ]
CASES += [
    ("cross_entropy-smoothing-too-big", lambda F, a, t: F.cross_entropy(a, t, label_smoothing=1.5), (X2, T2), (True, False)),
    ("cross_entropy-smoothing-negative", lambda F, a, t: F.cross_entropy(a, t, label_smoothing=-0.1), (X2, T2),
     (True, False)),
    ("cross_entropy-smoothing-ignore-index", lambda F, a, t: F.cross_entropy(a, t, ignore_index=1, label_smoothing=0.1),
     (X2, T2), (True, False)),
    ("cross_entropy-probabilities-too-big", lambda F, a, p: F.cross_entropy(a, p, label_smoothing=1.5), (X2, P2),
     (True, False)),
    ("cross_entropy-probabilities-ignore-index", lambda F, a, p: F.cross_entropy(a, p, ignore_index=1), (X2, P2),
     (True, False)),
    ("cross_entropy-probabilities-weight-size", lambda F, a, p, w: F.cross_entropy(a, p, w), (X2, P2, W3),
     (True, False, False)),
    ("cross_entropy-probabilities-long", lambda F, a, p: F.cross_entropy(a, p.long()), (X2, P2), (True, False)),
    ("cross_entropy-probabilities-empty", lambda F, a, p: F.cross_entropy(a, p), (X2[:0], P2[:0]), (True, False)),
    ("cross_entropy-probabilities-other-shape", lambda F, a, p: F.cross_entropy(a, p), (X2, P2[:, :3]), (True, False)),
]

PROB = 1 / (1 + np.exp(-A))
PROB_EDGES = np.array([[0.0, 1.0, 0.5], [1e-50, 1 - 1e-12, 0.25]])
for _red in ("mean", "sum", "none"):
    CASES += [
        (f"binary_cross_entropy-{_red}", lambda F, p, t, r=_red: F.binary_cross_entropy(p, t, reduction=r),
         (PROB, np.abs(S) * 0.7), (True, True)),
        (f"binary_cross_entropy-weight-{_red}", lambda F, p, t, w, r=_red: F.binary_cross_entropy(p, t, w, reduction=r),
         (PROB, P2 * 0.0 + 0.3, W[0]), (True, False, False)),
        (f"binary_cross_entropy_with_logits-{_red}",
         lambda F, x, t, r=_red: F.binary_cross_entropy_with_logits(x, t, reduction=r), (A * 10, PROB), (True, True)),
        (f"binary_cross_entropy_with_logits-weights-{_red}",
         lambda F, x, t, w, pw, r=_red: F.binary_cross_entropy_with_logits(x, t, w, reduction=r, pos_weight=pw),
         (A, PROB, W, W[0] * 2), (True, True, False, False)),
    ]
CASES += [
    ("binary_cross_entropy-edges", lambda F, p, t: F.binary_cross_entropy(p, t, reduction="none"),
     (PROB_EDGES, PROB_EDGES[::-1].copy()), (False, False)),
    ("binary_cross_entropy-above-one", lambda F, p, t: F.binary_cross_entropy(p, t), (PROB + 0.5, PROB), (True, False)),
    ("binary_cross_entropy-negative", lambda F, p, t: F.binary_cross_entropy(p, t), (PROB - 0.5, PROB), (True, False)),
    ("binary_cross_entropy-target-above-one", lambda F, p, t: F.binary_cross_entropy(p, t), (PROB, PROB + 1),
     (True, False)),
    ("binary_cross_entropy-size", lambda F, p, t: F.binary_cross_entropy(p, t), (PROB, PROB[0]), (True, False)),
    ("binary_cross_entropy-weight-size", lambda F, p, t, w: F.binary_cross_entropy(p, t, w), (PROB, PROB, W[:, :3]),
     (True, False, False)),
    ("binary_cross_entropy-weight-grad", lambda F, p, t, w: F.binary_cross_entropy(p, t, w), (PROB, PROB, W),
     (True, False, True)),
    ("binary_cross_entropy-float64-target", lambda F, p, t: F.binary_cross_entropy(p.float(), t.double()),
     (PROB, PROB), (True, False)),
    ("binary_cross_entropy-integer", lambda F, p, t: F.binary_cross_entropy(p.long(), t.long()), (PROB, PROB),
     (False, False)),
    ("binary_cross_entropy-legacy", lambda F, p, t: F.binary_cross_entropy(p, t, reduce=False), (PROB, PROB),
     (True, False)),
    ("binary_cross_entropy_with_logits-size", lambda F, x, t: F.binary_cross_entropy_with_logits(x, t), (A, PROB[0]),
     (True, False)),
    ("binary_cross_entropy_with_logits-pos-weight-size",
     lambda F, x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw), (A, PROB, W[0, :3]), (True, False, False)),
    ("binary_cross_entropy_with_logits-pos-weight-grad",
     lambda F, x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw), (A, PROB, W[0]), (True, False, True)),
    ("binary_cross_entropy_with_logits-bad-reduction",
     lambda F, x, t: F.binary_cross_entropy_with_logits(x, t, reduction="x"), (A, PROB), (True, False)),
    ("binary_cross_entropy_with_logits-extreme", lambda F, x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
     (np.array([-800.0, 800.0, 0.0, 30.0]), np.array([1.0, 0.0, 0.5, 0.2])), (True, False)),
]

LOGP = np.log(P2)
for _red in ("mean", "sum", "none", "batchmean"):
    CASES += [
        (f"kl_div-{_red}", lambda F, a, p, r=_red: F.kl_div(a, p, reduction=r), (LOGP, P2[::-1].copy()), (True, True)),
        (f"kl_div-log-target-{_red}", lambda F, a, p, r=_red: F.kl_div(a, p, reduction=r, log_target=True),
         (LOGP, LOGP[::-1].copy()), (True, True)),
    ]
for _red in ("mean", "sum", "none"):
    CASES += [
        (f"margin_ranking_loss-{_red}", lambda F, a, b, t, r=_red: F.margin_ranking_loss(a, b, t, 0.5, reduction=r),
         (A, B, S), (True, True, False)),
        (f"poisson_nll_loss-{_red}", lambda F, a, t, r=_red: F.poisson_nll_loss(a, t, reduction=r), (A, W * 3),
         (True, True)),
        (f"poisson_nll_loss-rates-full-{_red}",
         lambda F, a, t, r=_red: F.poisson_nll_loss(a, t, log_input=False, full=True, reduction=r),
         (W + 0.5, np.round(W * 3)), (True, False)),
        (f"gaussian_nll_loss-{_red}", lambda F, a, t, v, r=_red: F.gaussian_nll_loss(a, t, v, reduction=r),
         (A, B, W), (True, True, True)),
    ]
CASES += [
    ("kl_div-integer", lambda F, a, p: F.kl_div(a.long(), p), (LOGP, P2), (False, False)),
    ("kl_div-legacy", lambda F, a, p: F.kl_div(a, p, size_average=False), (LOGP, P2), (True, False)),
    ("kl_div-bad-reduction", lambda F, a, p: F.kl_div(a, p, reduction="x"), (LOGP, P2), (True, False)),
    ("kl_div-zero-target", lambda F, a, p: F.kl_div(a, p * 0, reduction="sum"), (LOGP, P2), (True, True)),
    ("margin_ranking_loss-dims", lambda F, a, b, t: F.margin_ranking_loss(a, b, t), (A, B, S[0]), (True, True, False)),
    ("margin_ranking_loss-legacy", lambda F, a, b, t: F.margin_ranking_loss(a, b, t, reduce=False), (A, B, S),
     (True, True, False)),
    ("poisson_nll_loss-bad-reduction", lambda F, a, t: F.poisson_nll_loss(a, t, reduction="x"), (A, W), (True, False)),
    ("poisson_nll_loss-full", lambda F, a, t: F.poisson_nll_loss(a, t, full=True), (A, np.round(W * 3)),
     (True, False)),
    ("gaussian_nll_loss-full-eps", lambda F, a, t, v: F.gaussian_nll_loss(a, t, v * 0, full=True, eps=0.5), (A, B, W),
     (True, True, True)),
    ("gaussian_nll_loss-one-per-sample", lambda F, a, t, v: F.gaussian_nll_loss(a, t, v[:, 0]), (A, B, W),
     (True, True, True)),
    ("gaussian_nll_loss-broadcast-dim", lambda F, a, t, v: F.gaussian_nll_loss(a, t, v[:, :1]), (A, B, W),
     (True, True, True)),
    ("gaussian_nll_loss-float-var", lambda F, a, t: F.gaussian_nll_loss(a, t, 2.0), (A, B), (True, True)),
    ("gaussian_nll_loss-negative-var", lambda F, a, t, v: F.gaussian_nll_loss(a, t, -v), (A, B, W), (True, True, False)),
    ("gaussian_nll_loss-negative-float", lambda F, a, t: F.gaussian_nll_loss(a, t, -1.0), (A, B), (True, True)),
    ("gaussian_nll_loss-var-size", lambda F, a, t, v: F.gaussian_nll_loss(a, t, v[:2]), (A, B, W), (True, True, False)),
    ("gaussian_nll_loss-bad-reduction", lambda F, a, t, v: F.gaussian_nll_loss(a, t, v, reduction="x"), (A, B, W),
     (True, True, False)),
]


# PyTorch's top-level forms (``torch.kl_div`` ...): (id, fn(module, *tensors), arrays, which require grad)
TOP = [
    ("kl_div", lambda M, a, p: M.kl_div(a, p), (LOGP, P2), (True, True)),
    ("kl_div-mean-log-target", lambda M, a, p: M.kl_div(a, p, 1, log_target=True), (LOGP, LOGP), (True, True)),
    ("kl_div-other-enum", lambda M, a, p: M.kl_div(a, p, 7), (LOGP, P2), (True, False)),
    ("kl_div-bool-reduction", lambda M, a, p: M.kl_div(a, p, True), (LOGP, P2), (True, False)),
    ("kl_div-number-target", lambda M, a, p: M.kl_div(a, 2), (LOGP, P2), (True, False)),
    ("kl_div-int-log-target", lambda M, a, p: M.kl_div(a, p, log_target=1), (LOGP, P2), (True, False)),
    ("margin_ranking_loss", lambda M, a, b, t: M.margin_ranking_loss(a, b, t), (A, B, S), (True, True, False)),
    ("margin_ranking_loss-sum", lambda M, a, b, t: M.margin_ranking_loss(a, b, t, 1, 2), (A, B, S), (True, True, False)),
    ("margin_ranking_loss-str-margin", lambda M, a, b, t: M.margin_ranking_loss(a, b, t, "a"), (A, B, S),
     (True, True, False)),
    ("poisson_nll_loss", lambda M, a, t: M.poisson_nll_loss(a, t, True, False, 1e-8, 1), (A, W), (True, True)),
    ("poisson_nll_loss-full", lambda M, a, t: M.poisson_nll_loss(a, t, False, True, 0.5, 0), (W, W), (True, False)),
    ("poisson_nll_loss-int-flag", lambda M, a, t: M.poisson_nll_loss(a, t, 1, False, 1e-8, 1), (A, W), (True, False)),
    ("binary_cross_entropy_with_logits", lambda M, a, t: M.binary_cross_entropy_with_logits(a, t), (A, PROB),
     (True, True)),
    ("binary_cross_entropy_with_logits-weights", lambda M, a, t, w: M.binary_cross_entropy_with_logits(a, t, w, w[0], 1),
     (A, PROB, W), (True, True, False)),
    # (values only: PyTorch's backward fails there, "returned an invalid gradient at index 1")
    ("binary_cross_entropy_with_logits-broadcast", lambda M, a, t: M.binary_cross_entropy_with_logits(a[0], t, reduction=2),
     (A, PROB), (False, False)),
    ("binary_cross_entropy_with_logits-bad-size", lambda M, a, t: M.binary_cross_entropy_with_logits(a, t[0]), (A, PROB),
     (True, False)),
    ("binary_cross_entropy_with_logits-str-reduction",
     lambda M, a, t: M.binary_cross_entropy_with_logits(a, t, None, None, "mean"), (A, PROB), (True, False)),
]


def _run(M, fn, arrays, rg, dtype, top=False):
    """Value, node name, first and second derivatives (of the sum of squared first ones) or the error,
    and the warnings, of ``fn`` over tensors of module ``M``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ts = [M.tensor(a, dtype=dtype if a.dtype.kind == "f" else None, requires_grad=r) for a, r in zip(arrays, rg)]
            y = fn(M if top else M.nn.functional, *ts)
            wrt = [t for t in ts if t.requires_grad]
            first = M.autograd.grad(y.sum(), wrt, create_graph=True) if wrt else []
            second = M.autograd.grad(sum((g * g).sum() for g in first), wrt, allow_unused=True) if wrt else []
            out = (y.detach().numpy(), str(y.dtype), type(y.grad_fn).__name__, [g.detach().numpy() for g in first],
                   [None if g is None else np.asarray(g.detach().numpy(force=True) if M is not tape else g.numpy())
                    for g in second])
        except Exception as e:     # noqa: BLE001  (the error is what is compared)
            out = (type(e).__name__, str(e))
    return out, [str(w.message) for w in caught]


# Every case in float64; in float32 those of one reduction (errors and warnings do not depend on it),
# which keeps the comparison to a few seconds.
RUNS = [(c, "float64") for c in CASES] + [(c, "float32") for c in CASES if "sum" not in c[0] and "none" not in c[0]]


@pytest.fixture(scope="module")
def torch1():
    """PyTorch on one thread for these small cases (its pool's threads cost tens of ms a call on a busy machine)."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


@pytest.mark.torch
@pytest.mark.parametrize("case,dtype", RUNS, ids=[f"{c[0]}-{d}" for c, d in RUNS])
def test_matches_torch(case, dtype, torch1):
    _compare(torch1, case, dtype)


@pytest.mark.torch
@pytest.mark.parametrize("case", TOP, ids=[c[0] for c in TOP])
def test_top_level_forms_match_torch(case, torch1):
    _compare(torch1, case, "float64", top=True)


def _compare(torch, case, dtype, top=False):
    _, fn, arrays, rg = case
    (want, want_warnings) = _run(torch, fn, arrays, rg, getattr(torch, dtype), top)
    (got, got_warnings) = _run(tape, fn, arrays, rg, getattr(tape, dtype), top)
    assert got_warnings == want_warnings
    if isinstance(want[0], str) or isinstance(got[0], str):
        assert isinstance(got[0], str) and got == want
        return
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else dict(rtol=1e-9, atol=1e-12)
    assert got[1:3] == want[1:3]
    assert np.allclose(got[0], want[0], equal_nan=True, **tol)
    for g, w in zip(got[3], want[3]):
        assert np.allclose(g, w, equal_nan=True, **tol)
    for g, w in zip(got[4], want[4]):
        zero = g is None or w is None
        assert (zero and not np.any(g if w is None else w)) or np.allclose(g, w, equal_nan=True, **tol)
