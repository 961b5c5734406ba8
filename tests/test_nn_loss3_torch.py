"""The margin and embedding losses of tape.nn.functional and their modules against PyTorch's: values,
dtypes, nodes, first and second derivatives (or PyTorch's error), errors and warnings, reprs."""
import warnings

import numpy as np
import pytest

import tape

pytestmark = pytest.mark.torch

RS = np.random.RandomState(0)
A, B, C = RS.randn(3, 4), RS.randn(3, 4), RS.randn(3, 4)
SIGN = np.sign(RS.randn(3, 4))
S = np.array([1.0, -1.0, 1.0])
T = np.array([0, 2, 3])
ML = np.array([[0, 2, -1, 0], [1, -1, 0, 0], [3, 2, 1, 0]])
W = np.array([1.0, 2.0, 0.5, 3.0])
Y = (SIGN > 0).astype(float)

# (id, fn(F, *tensors), arrays, which require grad)
CASES = []
for _r in ("mean", "sum", "none"):
    CASES += [
        (f"hinge-{_r}", lambda F, x, s, r=_r: F.hinge_embedding_loss(x, s, margin=0.5, reduction=r), (A, SIGN),
         (True, False)),
        (f"cosine-{_r}", lambda F, a, b, s, r=_r: F.cosine_embedding_loss(a, b, s, margin=0.2, reduction=r),
         (A, B, S), (True, True, False)),
        (f"triplet-{_r}", lambda F, a, b, c, r=_r: F.triplet_margin_loss(a, b, c, reduction=r), (A, B, C),
         (True, True, True)),
        (f"triplet-swap-p1-{_r}", lambda F, a, b, c, r=_r: F.triplet_margin_loss(a, b, c, 2.0, 1, swap=True,
                                                                                 reduction=r), (A, B, C),
         (True, True, True)),
        (f"distance-swap-{_r}", lambda F, a, b, c, r=_r: F.triplet_margin_with_distance_loss(a, b, c, swap=True,
                                                                                             reduction=r),
         (A, B, C), (True, True, True)),
        (f"multi_margin-{_r}", lambda F, x, t, r=_r: F.multi_margin_loss(x, t, reduction=r), (A, T), (True, False)),
        (f"multi_margin-p2-weight-{_r}", lambda F, x, t, w, r=_r: F.multi_margin_loss(x, t, 2, 2.0, w, reduction=r),
         (A, T, W), (True, False, False)),
        (f"multilabel_margin-{_r}", lambda F, x, t, r=_r: F.multilabel_margin_loss(x, t, reduction=r), (A, ML),
         (True, False)),
        (f"multilabel_soft_margin-{_r}", lambda F, x, y, r=_r: F.multilabel_soft_margin_loss(x, y, reduction=r),
         (A, Y), (True, True)),
        (f"multilabel_soft_margin-weight-{_r}",
         lambda F, x, y, w, r=_r: F.multilabel_soft_margin_loss(x, y, w, reduction=r), (A, Y, W), (True, False, True)),
    ]
CASES += [
    ("hinge-legacy", lambda F, x, s: F.hinge_embedding_loss(x, s, size_average=False), (A, SIGN), (True, False)),
    ("hinge-bad-reduction", lambda F, x, s: F.hinge_embedding_loss(x, s, reduction="x"), (A, SIGN), (True, False)),
    ("cosine-1d", lambda F, a, b, s: F.cosine_embedding_loss(a[0], b[0], s[1]), (A, B, S), (True, True, False)),
    ("cosine-2d-target", lambda F, a, b, s: F.cosine_embedding_loss(a, b, s[:, None]), (A, B, S), (True, True, False)),
    ("cosine-dims", lambda F, a, b, s: F.cosine_embedding_loss(a[0], b[0], s), (A, B, S), (True, True, False)),
    ("cosine-0d-target-2d", lambda F, a, b, s: F.cosine_embedding_loss(a, b, s[0]), (A, B, S), (True, True, False)),
    ("triplet-dims", lambda F, a, b, c: F.triplet_margin_loss(a, b, c[0]), (A, B, C), (True, True, True)),
    ("triplet-margin", lambda F, a, b, c: F.triplet_margin_loss(a, b, c, margin=0), (A, B, C), (True, True, True)),
    ("triplet-legacy", lambda F, a, b, c: F.triplet_margin_loss(a, b, c, reduce=False), (A, B, C), (True, True, True)),
    ("distance-dims", lambda F, a, b, c: F.triplet_margin_with_distance_loss(a, b, c[0]), (A, B, C),
     (True, True, True)),
    ("distance-reduction", lambda F, a, b, c: F.triplet_margin_with_distance_loss(a, b, c, reduction="x"), (A, B, C),
     (True, True, True)),
    ("distance-function", lambda F, a, b, c: F.triplet_margin_with_distance_loss(
        a, b, c, distance_function=lambda u, v: (u - v).abs().sum(-1), margin=3.0), (A, B, C), (True, True, True)),
    ("multi_margin-1d", lambda F, x, t: F.multi_margin_loss(x[0], t[1], reduction="none"), (A, T), (True, False)),
    ("multi_margin-1d-1", lambda F, x, t: F.multi_margin_loss(x[0], t[1:2], reduction="none"), (A, T), (True, False)),
    ("multi_margin-p", lambda F, x, t: F.multi_margin_loss(x, t, p=3), (A, T), (True, False)),
    ("multi_margin-weight-2d", lambda F, x, t: F.multi_margin_loss(x, t, weight=x.detach()), (A, T), (True, False)),
    ("multi_margin-weight-size", lambda F, x, t, w: F.multi_margin_loss(x, t, weight=w[:3]), (A, T, W),
     (True, False, False)),
    ("multi_margin-weight-grad", lambda F, x, t, w: F.multi_margin_loss(x, t, weight=w), (A, T, W), (True, False, True)),
    ("multi_margin-weight-dtype", lambda F, x, t, w: F.multi_margin_loss(x, t, weight=w.float()), (A, T, W),
     (True, False, False)),
    ("multi_margin-target-size", lambda F, x, t: F.multi_margin_loss(x, t[:2]), (A, T), (True, False)),
    ("multi_margin-target-range", lambda F, x, t: F.multi_margin_loss(x, t + 1), (A, T), (True, False)),
    ("multi_margin-target-dtype", lambda F, x, t: F.multi_margin_loss(x, t.int()), (A, T), (True, False)),
    ("multi_margin-integer", lambda F, x, t: F.multi_margin_loss(x.long(), t), (A, T), (False, False)),
    ("multi_margin-3d", lambda F, x, t: F.multi_margin_loss(x[None], t), (A, T), (True, False)),
    ("multi_margin-legacy", lambda F, x, t: F.multi_margin_loss(x, t, reduce=False), (A, T), (True, False)),
    ("multilabel_margin-1d", lambda F, x, t: F.multilabel_margin_loss(x[0], t[0]), (A, ML), (True, False)),
    ("multilabel_margin-1d-none", lambda F, x, t: F.multilabel_margin_loss(x[0], t[0], reduction="none"), (A, ML),
     (True, False)),
    ("multilabel_margin-size", lambda F, x, t: F.multilabel_margin_loss(x, t[:2]), (A, ML), (True, False)),
    ("multilabel_margin-range", lambda F, x, t: F.multilabel_margin_loss(x, t - 1), (A, ML), (True, False)),
    ("multilabel_margin-dtype", lambda F, x, t: F.multilabel_margin_loss(x, t.float()), (A, ML), (True, False)),
    ("multilabel_margin-integer", lambda F, x, t: F.multilabel_margin_loss(x.int(), t), (A, ML), (False, False)),
    ("multilabel_soft_margin-bad-reduction", lambda F, x, y: F.multilabel_soft_margin_loss(x, y, reduction="x"),
     (A, Y), (True, False)),
    ("multilabel_soft_margin-legacy", lambda F, x, y: F.multilabel_soft_margin_loss(x, y, reduce=False), (A, Y),
     (True, False)),
]


def _run(M, fn, arrays, rg, dtype):
    """Value, dtype, node, first derivatives and their nodes, and the second derivatives (of a weighted
    sum of the first ones) or their error; or the error; and the warnings."""
    out = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ts = [M.tensor(a, dtype=dtype if a.dtype.kind == "f" else None, requires_grad=r) for a, r in zip(arrays, rg)]
            y = fn(M.nn.functional, *ts)
            out += [y.detach().numpy(), str(y.dtype), y.grad_fn.name() if y.grad_fn is not None else None]
            wrt = [t for t in ts if t.requires_grad]
            first = M.autograd.grad(y.sum(), wrt, create_graph=True)
            out += [[g.detach().numpy() for g in first], [g.grad_fn.name() for g in first]]
            weights = [M.tensor(np.linspace(-1.0, 1.0, g.numel()).reshape(tuple(g.shape)), dtype=g.dtype)
                       for g in first]
            second = M.autograd.grad(sum((g * w).sum() for g, w in zip(first, weights)), wrt, allow_unused=True)
            out.append([None if g is None else (g + M.zeros(g.shape, dtype=g.dtype)).detach().numpy()
                        for g in second])
        except Exception as e:     # noqa: BLE001  (the error is what is compared)
            out.append((type(e).__name__, str(e)))
    return out, [str(w.message) for w in caught]


def _same(a, b, tol) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True))
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y, tol) for x, y in zip(a, b))
    return a == b


@pytest.fixture(scope="module")
def torch1():
    """PyTorch on one thread for these small cases."""
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(threads)


RUNS = [(c, "float64") for c in CASES] + [(c, "float32") for c in CASES if "sum" not in c[0] and "none" not in c[0]]


@pytest.mark.parametrize("case,dtype", RUNS, ids=[f"{c[0]}-{d}" for c, d in RUNS])
def test_matches_torch(case, dtype, torch1):
    _, fn, arrays, rg = case
    want = _run(torch1, fn, arrays, rg, getattr(torch1, dtype))
    got = _run(tape, fn, arrays, rg, getattr(tape, dtype))
    assert _same(got, want, 1e-5 if dtype == "float32" else 1e-12), (got, want)


def test_saved_values_match_torch(torch1):
    def saved(M):
        x = M.tensor(A, requires_grad=True)
        g1 = M.nn.functional.multi_margin_loss(x, M.tensor(T), 2, 1.5, M.tensor(W), reduction="sum").grad_fn
        g2 = M.nn.functional.multilabel_margin_loss(x, M.tensor(ML), reduction="none").grad_fn
        return ([g1._saved_p, g1._saved_margin, g1._saved_reduction, g1._saved_weight.numpy(), g1._saved_target.numpy()],
                [g2._saved_reduction, g2._saved_is_target.numpy(), g2._saved_target.numpy(), g2._saved_self is x])
    assert _same(saved(tape), saved(torch1), 0)


MODULES = [
    ("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(2.0, reduction="sum")),
    ("CosineEmbeddingLoss", lambda nn: nn.CosineEmbeddingLoss(0.5)),
    ("MultiMarginLoss", lambda nn: nn.MultiMarginLoss(2, 0.5, weight=None)),
    ("MultiLabelMarginLoss", lambda nn: nn.MultiLabelMarginLoss(reduce=False)),
    ("MultiLabelSoftMarginLoss", lambda nn: nn.MultiLabelSoftMarginLoss()),
    ("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(swap=True, p=1.0)),
    ("TripletMarginWithDistanceLoss", lambda nn: nn.TripletMarginWithDistanceLoss(margin=2.0)),
    ("TripletMarginWithDistanceLoss-p1",
     lambda nn: nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(1.0))),
    ("MultiMarginLoss-p", lambda nn: nn.MultiMarginLoss(p=3)),
    ("TripletMarginWithDistanceLoss-margin", lambda nn: nn.TripletMarginWithDistanceLoss(margin=0)),
]


@pytest.mark.parametrize("case", MODULES, ids=[m[0] for m in MODULES])
def test_modules_match_torch(case, torch1):
    def made(M):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                m = case[1](M.nn)
                out = [repr(m), m.reduction, sorted(m.__dict__.get("_buffers", {}))]
            except ValueError as e:
                out = [str(e)]
        return out, [str(w.message) for w in caught]
    assert made(tape) == made(torch1)


LP = RS.randn(6, 3, 5)
TG = np.array([[1, 2, 2], [3, 1, 4], [4, 4, 0]])
# (id, log_probs, targets, input_lengths, target_lengths, keywords)
CTC = [
    ("mean", LP, TG, (6, 5, 4), (3, 2, 2), {}),
    ("sum", LP, TG, (6, 5, 4), (3, 2, 2), dict(reduction="sum")),
    ("none-empty-target", LP, TG, (6, 6, 6), (3, 0, 2), dict(reduction="none")),
    ("none-impossible", LP, TG, (2, 5, 4), (3, 2, 2), dict(reduction="none")),
    ("zero-infinity", LP, TG, (2, 5, 4), (3, 2, 2), dict(zero_infinity=True)),
    ("labels-as-blank", LP, TG, (6, 5, 4), (3, 2, 2), dict(blank=4, reduction="none")),
    ("concatenated", LP, np.array([1, 2, 2, 3, 1, 4, 4]), (6, 5, 4), (3, 2, 2), {}),
    ("unbatched", LP[:, 0], TG[0], (6,), (3,), dict(reduction="none")),
    ("input-length", LP, TG, (6, 5, 7), (3, 2, 2), {}),
    ("lengths-size", LP, TG, (6, 5), (3, 2, 2), {}),
    ("target-size", LP, TG, (6, 5, 4), (3, 2, 4), {}),
    ("blank", LP, TG, (6, 5, 4), (3, 2, 2), dict(blank=5)),
    ("concatenated-size", LP, np.array([1, 2, 2, 3, 1]), (6, 5, 4), (3, 2, 2), {}),
    ("empty", LP[:, :0], TG[:0], (), (), {}),
]


def _ctc(M, lp, targets, il, tl, kw, lengths_as_tensors, dtype):
    try:
        x = M.tensor(lp, dtype=dtype, requires_grad=True)
        lengths = (M.tensor(il), M.tensor(tl)) if lengths_as_tensors else (il, tl)
        y = M.nn.functional.ctc_loss(x.log_softmax(-1), M.tensor(targets), *lengths, **kw)
        g, = M.autograd.grad(y.sum(), x, create_graph=True)
        try:
            g.sum().backward()
            second = None
        except RuntimeError as e:
            second = str(e)
        return [y.detach().numpy(), y.grad_fn.name(), g.detach().numpy(), second]
    except Exception as e:     # noqa: BLE001  (the error is what is compared)
        return (type(e).__name__, str(e))


@pytest.mark.parametrize("lengths_as_tensors", [False, True])
@pytest.mark.parametrize("case", CTC, ids=[c[0] for c in CTC])
def test_ctc_loss_matches_torch(case, lengths_as_tensors, torch1):
    for dtype in ("float64", "float32") if not lengths_as_tensors else ("float64",):
        want = _ctc(torch1, *case[1:], lengths_as_tensors, getattr(torch1, dtype))
        got = _ctc(tape, *case[1:], lengths_as_tensors, getattr(tape, dtype))
        assert _same(got, want, 1e-5 if dtype == "float32" else 1e-10), (got, want)


def test_adaptive_log_softmax_with_loss_matches_torch(torch1):
    def run(M):
        M.manual_seed(0)
        m = M.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0)
        x = M.randn(5, 8, requires_grad=True)
        out = m(x, M.tensor([0, 4, 9, 2, 7]))
        out.loss.backward()
        one = m(x[0], M.tensor(0))
        errors = []
        for bad in (lambda: m(x, M.tensor([0, 1, 2, 3, 10])), lambda: m(x, M.tensor([0, 1])),
                    lambda: m(x[0], M.tensor([0])), lambda: M.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])):
            try:
                bad()
            except (RuntimeError, ValueError) as e:
                errors.append(str(e))
        return [repr(m), type(out).__name__, out._fields, out.output.detach().numpy(), out.loss.detach().numpy(),
                out.output.grad_fn.name(), x.grad.numpy(), m.tail[1][0].weight.grad.numpy(),
                m.log_prob(x).detach().numpy(), m.predict(x).numpy(), one.output.detach().numpy(), errors]
    assert _same(run(tape), run(torch1), 1e-5)


# PyTorch's top-level forms: (id, fn(module, *tensors), arrays, which require grad)
TOP = [
    ("hinge", lambda M, x, s: M.hinge_embedding_loss(x, s), (A, SIGN), (True, False)),
    ("hinge-mean", lambda M, x, s: M.hinge_embedding_loss(x, s, 0.5, 1), (A, SIGN), (True, False)),
    ("hinge-other-enum", lambda M, x, s: M.hinge_embedding_loss(x, s, 1.0, 7), (A, SIGN), (True, False)),
    ("hinge-str-margin", lambda M, x, s: M.hinge_embedding_loss(x, s, "a"), (A, SIGN), (True, False)),
    ("hinge-str-reduction", lambda M, x, s: M.hinge_embedding_loss(x, s, reduction="mean"), (A, SIGN), (True, False)),
    ("cosine", lambda M, a, b, s: M.cosine_embedding_loss(a, b, s), (A, B, S), (True, True, False)),
    ("cosine-sum", lambda M, a, b, s: M.cosine_embedding_loss(a, b, s, 0.3, 2), (A, B, S), (True, True, False)),
    ("cosine-number-target", lambda M, a, b, s: M.cosine_embedding_loss(a, b, 1), (A, B, S), (True, True, False)),
    ("triplet", lambda M, a, b, c: M.triplet_margin_loss(a, b, c), (A, B, C), (True, True, True)),
    ("triplet-zero-margin", lambda M, a, b, c: M.triplet_margin_loss(a, b, c, margin=0.0, reduction=2), (A, B, C),
     (True, True, True)),
    ("triplet-swap", lambda M, a, b, c: M.triplet_margin_loss(a, b, c, 1.0, 1, 1e-6, True, 1), (A, B, C),
     (True, True, True)),
    ("triplet-int-swap", lambda M, a, b, c: M.triplet_margin_loss(a, b, c, swap=1), (A, B, C), (True, True, True)),
]


@pytest.mark.parametrize("case", TOP, ids=[c[0] for c in TOP])
def test_top_level_forms_match_torch(case, torch1):
    _, fn, arrays, rg = case
    want = _run(torch1, lambda F, *ts: fn(torch1, *ts), arrays, rg, torch1.float64)
    got = _run(tape, lambda F, *ts: fn(tape, *ts), arrays, rg, tape.float64)
    assert _same(got, want, 1e-12), (got, want)


@pytest.mark.parametrize("name", ["multi_margin_loss", "multilabel_margin_loss", "ctc_loss"])
def test_forward_ad_errors_match_torch(name, torch1):
    def run(M):
        fw = M.autograd.forward_ad
        with fw.dual_level():
            if name == "ctc_loss":
                lp = M.tensor(LP).log_softmax(2)
                d = fw.make_dual(lp, M.ones_like(lp))
                call = lambda: M.nn.functional.ctc_loss(d, M.tensor(TG), (6, 5, 4), (3, 2, 2))      # noqa: E731
            else:
                d = fw.make_dual(M.tensor(A), M.ones(3, 4, dtype=M.float64))
                call = lambda: getattr(M.nn.functional, name)(d, M.tensor(T if name == "multi_margin_loss" else ML))  # noqa: E731
            try:
                call()
            except NotImplementedError as e:
                return str(e)
    assert run(tape) == run(torch1) is not None
