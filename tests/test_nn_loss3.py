"""The margin and embedding losses of tape.nn.functional (ops/margin_losses.py) and their modules: values
on hand-checked cases, nodes, errors, gradients (gradcheck in float64)."""
import numpy as np
import pytest

import tape
import tape.nn as nn
import tape.nn.functional as F

X = [[0.1, 0.2, 0.4, 0.8], [0.5, -1.0, 0.25, 2.0]]


def _x(dtype=tape.float64):
    return tape.tensor(X, dtype=dtype, requires_grad=True)


def test_multi_margin_loss_values_and_node():
    x = _x()
    # (PyTorch's documented example: 1/4 ((1 - (0.8 - 0.1)) + (1 - (0.8 - 0.2)) + (1 - (0.8 - 0.4))))
    y = F.multi_margin_loss(x[:1], tape.tensor([3]))
    assert y.grad_fn.name() == "MultiMarginLossBackward0"
    assert np.isclose(y.item(), 0.325)
    y = F.multi_margin_loss(x, tape.tensor([3, 1]), p=2, margin=0.5, weight=tape.tensor([1.0, 2.0, 1.0, 1.0],
                                                                                       dtype=tape.float64),
                            reduction="none")
    z1 = np.maximum(0.5 - np.array(X[1][1]) + np.array(X[1]), 0) ** 2 * 2.0
    z1[1] = 0
    assert np.allclose(y.detach().numpy(), [np.sum(np.maximum(0.5 - 0.8 + np.array(X[0][:3]), 0) ** 2) / 4,
                                            z1.sum() / 4])
    g = y.grad_fn
    assert (g._saved_p, g._saved_margin, g._saved_reduction) == (2, 0.5, 0) and g._saved_self is x


def test_multilabel_margin_loss_values_and_node():
    x = _x()
    # (PyTorch's documented example: labels 3 and 0, the -1 ending them)
    y = F.multilabel_margin_loss(x[:1], tape.tensor([[3, 0, -1, 1]]))
    assert y.grad_fn.name() == "MultilabelMarginLossBackward0"
    assert np.isclose(y.item(), 0.85)
    assert np.array_equal(y.grad_fn._saved_is_target.numpy(), [[1.0, 0.0, 0.0, 1.0]])
    x.grad = None
    y.backward()
    # (pairs (3, 1), (3, 2), (0, 1), (0, 2), each z > 0: -1/4 per pair to the target, +1/4 to the other)
    assert np.allclose(x.grad.numpy(), [[-0.5, 0.5, 0.5, -0.5], [0, 0, 0, 0]])


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss"])
def test_margin_rows_first_order_and_no_second(name):
    x = _x()
    target = tape.tensor([3, 0]) if name == "multi_margin_loss" else tape.tensor([[3, 0, -1, 1], [1, -1, 0, 0]])
    for reduction in ("mean", "sum", "none"):
        assert tape.autograd.gradcheck(lambda x: getattr(F, name)(x, target, reduction=reduction), (x,))
    g, = tape.autograd.grad(getattr(F, name)(x, target), x, create_graph=True)
    assert g.grad_fn.name() == "torch::autograd::NotImplemented" and g.requires_grad
    with pytest.raises(RuntimeError, match=f"derivative for aten::{name}_backward is not implemented"):
        g.sum().backward()


def test_margin_rows_float32_and_without_grad():
    x = _x(tape.float32)
    y = F.multi_margin_loss(x, tape.tensor([0, 1]), p=2)
    assert y.dtype == tape.float32
    y.backward()
    assert x.grad.dtype == tape.float32
    with tape.no_grad():
        assert F.multilabel_margin_loss(x, tape.tensor([[0, -1, 0, 0], [1, 2, 3, 0]])).grad_fn is None


def test_margin_row_errors():
    x = _x()
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        F.multi_margin_loss(x, tape.tensor([0, 1]), p=3)
    with pytest.raises(RuntimeError, match="target out of range"):
        F.multi_margin_loss(x, tape.tensor([0, 4]))
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        F.multi_margin_loss(x, tape.tensor([0.0, 1.0]))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        F.multi_margin_loss(x, tape.tensor([0, 1]), weight=tape.ones(4, dtype=tape.float64, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"Expected non-empty vector or matrix .* \[2, 2, 2\]"):
        F.multilabel_margin_loss(tape.ones(2, 2, 2), tape.zeros(2, 2, dtype=tape.int64))
    with pytest.raises(RuntimeError, match="argument #2 'target' is out of range"):
        F.multilabel_margin_loss(x, tape.tensor([[0, 4, -1, 0], [0, 0, 0, 0]]))
    with pytest.raises(RuntimeError, match=r"inconsistent target size: \[1, 4\] for input of size: \[2, 4\]"):
        F.multilabel_margin_loss(x, tape.tensor([[0, 1, -1, 0]]))


def test_hinge_and_cosine_embedding_values():
    x = tape.tensor([0.5, -2.0, 3.0], dtype=tape.float64, requires_grad=True)
    y = F.hinge_embedding_loss(x, tape.tensor([1.0, -1.0, -1.0]), margin=1.0, reduction="none")
    assert np.allclose(y.detach().numpy(), [0.5, 3.0, 0.0]) and y.grad_fn.name() == "AddBackward0"
    a = tape.tensor([[1.0, 0.0], [1.0, 1.0]], dtype=tape.float64, requires_grad=True)
    b = tape.tensor([[0.0, 1.0], [1.0, 1.0]], dtype=tape.float64)
    y = F.cosine_embedding_loss(a, b, tape.tensor([-1.0, 1.0]), margin=-0.5, reduction="none")
    assert np.allclose(y.detach().numpy(), [0.5, 0.0])
    assert y.grad_fn.next_functions[1][0].next_functions[0][0].next_functions[0][0].name() == "SubBackward1"


def test_triplet_values():
    a = tape.tensor([[0.0, 0.0]], dtype=tape.float64, requires_grad=True)
    p = tape.tensor([[3.0, 4.0]], dtype=tape.float64)
    n = tape.tensor([[1.0, 0.0]], dtype=tape.float64)
    y = F.triplet_margin_loss(a, p, n, eps=0.0)
    assert np.isclose(y.item(), 5.0 - 1.0 + 1.0)
    # (swap: the positive is closer to the negative than the anchor is: sqrt(4 + 16))
    assert np.isclose(F.triplet_margin_loss(a, p, n, eps=0.0, swap=True).item(), 5.0 - 1.0 + 1.0)
    y = F.triplet_margin_with_distance_loss(a, p, n, distance_function=lambda u, v: (u - v).abs().sum(-1),
                                            margin=2.0, reduction="sum")
    assert np.isclose(y.item(), 7.0 - 1.0 + 2.0)
    with pytest.raises(ValueError, match="margin must be greater than 0, got 0"):
        F.triplet_margin_loss(a, p, n, margin=0)
    with pytest.raises(RuntimeError, match="anchor 2D, positive 2D, and negative 1D inputs"):
        F.triplet_margin_with_distance_loss(a, p, n[0])


@pytest.mark.parametrize("case", ["hinge", "cosine", "triplet", "triplet_swap", "distance", "soft"])
def test_composed_gradients_to_second_order(case):
    rs = np.random.RandomState(0)
    a, b, c = (tape.tensor(rs.randn(3, 4), requires_grad=True) for _ in range(3))
    s = tape.tensor([1.0, -1.0, 1.0], dtype=tape.float64)
    fns = {"hinge": (lambda a: F.hinge_embedding_loss(a, s.view(3, 1).expand(3, 4), margin=3.0), (a,)),
           "cosine": (lambda a, b: F.cosine_embedding_loss(a, b, s, margin=-0.5), (a, b)),
           "triplet": (lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=4.0), (a, b, c)),
           "triplet_swap": (lambda a, b, c: F.triplet_margin_loss(a, b, c, margin=4.0, p=3, swap=True), (a, b, c)),
           "distance": (lambda a, b, c: F.triplet_margin_with_distance_loss(a, b, c, margin=4.0, swap=True),
                        (a, b, c)),
           "soft": (lambda a: F.multilabel_soft_margin_loss(a, (s > 0).double().view(3, 1).expand(3, 4),
                                                             weight=s.abs()[:1].expand(4)), (a,))}
    fn, inputs = fns[case]
    assert tape.autograd.gradcheck(fn, inputs)
    assert tape.autograd.gradgradcheck(fn, inputs)


def test_modules():
    w = tape.tensor([1.0, 2.0, 1.0, 1.0], dtype=tape.float64)
    m = nn.MultiMarginLoss(p=2, margin=0.5, weight=w, reduction="sum")
    assert repr(m) == "MultiMarginLoss()" and list(m.state_dict()) == ["weight"]
    x, t = _x(), tape.tensor([3, 1])
    assert np.isclose(m(x, t).item(), F.multi_margin_loss(x, t, 2, 0.5, w, reduction="sum").item())
    with pytest.raises(ValueError, match="expected weight to be None or 1D tensor, got 2D instead"):
        nn.MultiMarginLoss(weight=tape.ones(2, 2))
    with pytest.warns(UserWarning, match="please use reduction='none' instead"):
        assert nn.HingeEmbeddingLoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="TripletMarginLoss: expected margin to be greater than 0, got 0 instead"):
        nn.TripletMarginLoss(margin=0)
    m = nn.TripletMarginWithDistanceLoss()
    assert repr(m) == "TripletMarginWithDistanceLoss(\n  (distance_function): PairwiseDistance()\n)"
    a, p, n = _x(), _x() * 2, _x() * 3
    assert np.isclose(m(a, p, n).item(), F.triplet_margin_loss(a, p, n).item())
    assert np.isclose(nn.MultiLabelMarginLoss()(x, tape.tensor([[3, 0, -1, 1], [0, -1, 0, 0]])).item(),
                      F.multilabel_margin_loss(x, tape.tensor([[3, 0, -1, 1], [0, -1, 0, 0]])).item())
    for m, args in ((nn.CosineEmbeddingLoss(0.5), (a, p, tape.tensor([1.0, -1.0]))),
                    (nn.MultiLabelSoftMarginLoss(), (a, (p > 0.5).double())), (nn.TripletMarginLoss(swap=True), (a, p, n)),
                    (nn.HingeEmbeddingLoss(2.0), (a, (p > 0.5).double() * 2 - 1))):
        assert m(*args).requires_grad


def test_ctc_loss_values():
    p = np.array([[0.3, 0.7], [0.6, 0.4]])       # (T=2, C=2): blank 0, the target is the label 1
    lp = tape.tensor(np.log(p), requires_grad=True)
    y = F.ctc_loss(lp, tape.tensor([1]), (2,), (1,), reduction="sum")
    # (the alignments (1, 1), (blank, 1), (1, blank))
    assert np.isclose(y.item(), -np.log(0.7 * 0.4 + 0.3 * 0.4 + 0.7 * 0.6))
    assert y.grad_fn.next_functions[0][0].name() == "CtcLossBackward0"      # (over the input unsqueezed)
    y = F.ctc_loss(lp, tape.tensor([1, 1]), (2,), (2,), reduction="none", zero_infinity=True)
    assert y.item() == 0.0        # (two equal labels need a blank between: impossible in two steps)
    assert F.ctc_loss(lp.detach(), tape.tensor([1, 1]), (2,), (2,), reduction="none").item() == np.inf


def test_ctc_loss_gradients_and_errors():
    rs = np.random.RandomState(1)
    x = tape.tensor(rs.randn(5, 2, 4), requires_grad=True)
    targets = tape.tensor([[1, 3, 3], [2, 1, 0]])
    for reduction in ("mean", "none"):
        assert tape.autograd.gradcheck(lambda x: F.ctc_loss(x.log_softmax(-1), targets, tape.tensor([5, 4]), (3, 2),
                                                            reduction=reduction), (x,))
    g, = tape.autograd.grad(F.ctc_loss(x.log_softmax(-1), targets, (5, 4), (3, 2)), x, create_graph=True)
    with pytest.raises(RuntimeError, match="derivative for aten::_ctc_loss_backward is not implemented"):
        g.sum().backward()
    with pytest.raises(RuntimeError, match="blank must be in label range"):
        F.ctc_loss(x, targets, (5, 4), (3, 2), blank=4)
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 5, but got value 6"):
        F.ctc_loss(x, targets, (6, 4), (3, 2))
    m = nn.CTCLoss(blank=3, zero_infinity=True)
    assert repr(m) == "CTCLoss()" and m.blank == 3 and m.zero_infinity


def test_adaptive_log_softmax_with_loss():
    tape.manual_seed(0)
    m = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0)
    assert [(k, tuple(v.shape)) for k, v in m.named_parameters()] == [
        ("head.weight", (5, 8)), ("tail.0.0.weight", (4, 8)), ("tail.0.1.weight", (3, 4)), ("tail.1.0.weight", (2, 8)),
        ("tail.1.1.weight", (4, 2))]
    x = tape.randn(5, 8, dtype=tape.float64)
    m.double()
    t = tape.tensor([0, 4, 9, 2, 7])
    out = m(x, t)
    full = m.log_prob(x)
    assert np.allclose(np.exp(full.detach().numpy()).sum(1), 1)
    assert np.allclose(out.output.detach().numpy(), full.detach().numpy()[np.arange(5), t.numpy()])
    assert np.isclose(out.loss.item(), -out.output.mean().item()) and out.loss.grad_fn.name() == "MeanBackward0"
    assert np.array_equal(m.predict(x).numpy(), full.argmax(1).numpy())
    assert tape.autograd.gradcheck(lambda x: m(x, t).loss, (x.requires_grad_(),))
    with pytest.raises(RuntimeError, match=r"Target values should be in \[0, 9\], but values in range \[0, 10\]"):
        m(x, tape.tensor([0, 1, 2, 3, 10]))
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive integers"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])
