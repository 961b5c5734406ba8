"""Every code example of the tutorials in shared/seeds/*.txt, run with
``import tape as torch``.

Expected printed output is the exact text PyTorch 2.x prints for the same
code, with ``torch.`` replaced by ``tape.`` inside reprs.  Object addresses
are compared by regex.  Where an example uses random values, the test checks
relations (autograd result == analytic formula, shapes, dtypes) instead.

Where the tutorial's code errors in real PyTorch (sometimes silently: the page
shows output from a differently ordered notebook run), the test asserts the
PyTorch error, and then also runs the intended, working version.
"""
import io
import contextlib
import math
import re
import warnings

import numpy as np
import pytest

import tape as torch
import tape as t  # seed 003 uses ``import torch as t``


SECOND_BACKWARD = "Trying to backward through the graph a second time"
NONLEAF_GRAD_WARNING = (
    r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed"
)


@pytest.fixture(autouse=True)
def _restore_grad_mode():
    # Some tutorial code calls torch.set_grad_enabled(False) as a plain function.
    yield
    torch.set_grad_enabled(True)


def fn_name(node):
    """Class name of a grad_fn / next_functions node (None stays None)."""
    return None if node is None else type(node).__name__


def next_structure(node):
    return tuple((fn_name(f), i) for f, i in node.next_functions)


def close(a, b, tol=1e-6):
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                       rtol=tol, atol=tol)


# ---------------------------------------------------------------------------
# seed 000: "P14 PyTorch AutoGrad" (line breaks were lost by page extraction)
# ---------------------------------------------------------------------------

def test_seed000_grad_of_tensor_not_requiring_grad_errors():
    # 一 require_grad = False: "运行后回直接报错"
    def autograd():
        a = torch.tensor(2.0, requires_grad=False)
        b = torch.tensor(3.0, requires_grad=False)
        c = a * b
        grad_a = torch.autograd.grad(c, [a])
        print(a, grad_a)

    with pytest.raises(RuntimeError,
                       match="element 0 of tensors does not require grad and does not have a grad_fn"):
        autograd()


def test_seed000_requires_grad_true(capsys):
    # 二 require_grad = True
    def autograd():
        a = torch.tensor(2.0, requires_grad=True)
        b = torch.tensor(3.0, requires_grad=False)
        c = a * b
        grad_a = torch.autograd.grad(c, [a])
        print(grad_a)
        return a, b, c

    a, b, c = autograd()
    assert capsys.readouterr().out == "(tensor(3.),)\n"
    # "Tensor C的三个属性发生了变化: grad_fn = MulBackward, is_leaf = False, require_grad = True"
    assert fn_name(c.grad_fn) == "MulBackward0"
    assert c.is_leaf is False
    assert c.requires_grad is True
    assert a.is_leaf is True and b.is_leaf is True
    assert a.grad_fn is None and b.grad_fn is None
    # "[Accumulated Grad,0] 跟 Tensor a 关联 / [None ,0] 跟 Tensor b 关联"
    nf = c.grad_fn.next_functions
    assert isinstance(nf, tuple) and len(nf) == 2
    assert next_structure(c.grad_fn) == (("AccumulateGrad", 0), (None, 0))
    assert nf[0][0].variable is a
    # autograd.grad does not populate .grad
    assert a.grad is None


def test_seed000_multilayer_backward(capsys):
    # 三 多层bakcward 原理
    def autograd():
        a = torch.tensor(2.0, requires_grad=True)
        b = torch.tensor(3.0, requires_grad=True)
        d = torch.tensor(4.0, requires_grad=True)
        c = a * b
        e = c * d
        grad_a, grad_b, grad_d = torch.autograd.grad(e, [a, b, d])
        print("grad_a: %d grad_b: %d  grad_d: %d" % (grad_a, grad_b, grad_d))
        return a, b, c, d, e

    a, b, c, d, e = autograd()
    assert capsys.readouterr().out == "grad_a: 12 grad_b: 8  grad_d: 6\n"
    # c is an intermediate node: its grad_fn is linked from e's grad_fn
    assert next_structure(e.grad_fn) == (("MulBackward0", 0), ("AccumulateGrad", 0))
    assert e.grad_fn.next_functions[0][0] == c.grad_fn
    assert c.is_leaf is False
    # "为了防止tensor 运行期间发生变化增加了 _version 保护"
    assert isinstance(a._version, int)
    assert a._version == 0


def test_seed000_index_unbind(capsys):
    # 四 index 的作用
    def autograd():
        a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b, c, d = a.unbind()
        e = b * c * d
        grad_a = torch.autograd.grad(e, [a])
        print("grad_a:  ", grad_a)
        return a, b, c, d, e

    a, b, c, d, e = autograd()
    assert capsys.readouterr().out == "grad_a:   (tensor([6., 3., 2.]),)\n"
    # "index 主要用于指向对应的backward graph 中的input的tensor索引"
    assert fn_name(b.grad_fn) == "UnbindBackward0"
    assert b.grad_fn == c.grad_fn == d.grad_fn
    assert next_structure(e.grad_fn) == (("MulBackward0", 0), ("UnbindBackward0", 2))
    assert next_structure(e.grad_fn.next_functions[0][0]) == (
        ("UnbindBackward0", 0), ("UnbindBackward0", 1))
    assert e.grad_fn.next_functions[1][0] == b.grad_fn
    assert next_structure(b.grad_fn) == (("AccumulateGrad", 0),)
    assert b.grad_fn.next_functions[0][0].variable is a


SEED000_FORWARD_OUT = (
    "\n c: tensor(4.)\n"
    "\n e  tensor(8., grad_fn=<MulBackward0>)\n"
    "\n g  tensor(16., grad_fn=<MulBackward0>)\n"
    "\n i  tensor(8., grad_fn=<DivBackward0>)\n"
    "\n j  tensor(10., grad_fn=<AddBackward0>)\n"
    "\n k  tensor(80., grad_fn=<MulBackward0>)\n"
    "\n grad_c  (tensor(36.),)\n"
    "m  tensor(80.)\n"
)


def test_seed000_more_complex_example(capsys):
    # 五 更复杂的例子
    def Forward():
        a = torch.tensor(2.0, requires_grad=False)
        b = torch.tensor(2.0, requires_grad=False)
        d = torch.tensor(2.0, requires_grad=False)
        f = torch.tensor(2.0, requires_grad=False)
        h = torch.tensor(2.0, requires_grad=True)
        c = a * b
        print("\n c:", c)
        c.requires_grad = True
        e = c * d
        print("\n e ", e)
        g = e * f
        print("\n g ", g)
        i = g / h
        print("\n i ", i)
        j = i + h
        k = j * i
        print("\n j ", j)
        print("\n k ", k)
        grad_c = torch.autograd.grad(k, [c])
        print("\n grad_c ", grad_c)
        m = k.detach()
        print("m ", m)
        return c, k, m

    c, k, m = Forward()
    assert capsys.readouterr().out == SEED000_FORWARD_OUT
    # c was computed without grad, then made to require grad: it is a leaf
    assert c.is_leaf is True
    assert c.grad is None  # autograd.grad does not accumulate
    assert m.requires_grad is False and m.grad_fn is None and m.is_leaf is True
    assert k.requires_grad is True


# ---------------------------------------------------------------------------
# seed 001: "深度解析 PyTorch Autograd:从原理到实践"
# ---------------------------------------------------------------------------

def test_seed001_simple_autodiff(capsys):
    x = torch.tensor(2.0, requires_grad=True)
    y = x ** 2 + 3 * x + 1
    y.backward()
    print(x.grad)  # 输出应为 2*x + 3 在 x=2 时的值,即 7
    assert capsys.readouterr().out == "tensor(7.)\n"
    assert x.grad.item() == 7.0
    assert fn_name(y.grad_fn) == "AddBackward0"


def test_seed001_linear_regression_gradient(capsys):
    x_data = torch.tensor([1.0, 2.0, 3.0])
    y_data = torch.tensor([2.0, 4.0, 6.0])

    weight = torch.tensor([1.0], requires_grad=True)

    def forward(x):
        return x * weight

    def loss(x, y):
        y_pred = forward(x)
        return (y_pred - y) ** 2

    l = loss(x_data, y_data)
    # The loss is not a scalar: in PyTorch the tutorial's l.backward() errors.
    assert tuple(l.shape) == (3,)
    assert fn_name(l.grad_fn) == "PowBackward0"
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        l.backward()
    assert weight.grad is None

    # The intended computation: reduce to a scalar first.
    l.sum().backward()
    print(weight.grad)  # 打印梯度
    # d/dw sum((w*x - y)^2) = sum(2*(w*x - y)*x) = 2*(-1 - 4 - 9) = -28
    assert capsys.readouterr().out == "tensor([-28.])\n"


def test_seed001_tensor_autograd_interaction(capsys):
    x = torch.tensor([2.0], requires_grad=True)
    y = x * x
    print(y.grad_fn)  # 这显示了 y 是通过哪种操作得到的
    out = capsys.readouterr().out
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-fA-F]+>\n", out), out

    y.backward()
    print(x.grad)  # 应输出 4.0,因为 dy/dx = 2 * x,在 x=2 时值为 4
    assert capsys.readouterr().out == "tensor([4.])\n"


def test_seed001_dynamic_graph_and_backward(capsys):
    x = torch.tensor(1.0, requires_grad=True)
    y = torch.tensor(2.0, requires_grad=True)
    z = x * y
    assert fn_name(z.grad_fn) == "MulBackward0"
    assert next_structure(z.grad_fn) == (("AccumulateGrad", 0), ("AccumulateGrad", 0))

    z.backward()
    print(x.grad)  # dz/dx,在 x=1, y=2 时应为 2
    print(y.grad)  # dz/dy,在 x=1, y=2 时应为 1
    assert capsys.readouterr().out == "tensor(2.)\ntensor(1.)\n"

    with torch.no_grad():
        # 在这个块内,所有计算都不会跟踪梯度
        y = x * 2
        # 这里 y 的 grad_fn 为 None
    assert y.grad_fn is None
    assert y.requires_grad is False


def test_seed001_backprop_zero_grad_and_higher_order(capsys):
    x = torch.tensor(1.0, requires_grad=True)
    w = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)

    y = w * x + b
    loss = y - 5
    loss.backward()
    print(x.grad)  # dy/dx
    print(w.grad)  # dy/dw
    print(b.grad)  # dy/db
    assert capsys.readouterr().out == "tensor(2.)\ntensor(1.)\ntensor(1.)\n"

    # 清零梯度
    x.grad.zero_()
    w.grad.zero_()
    b.grad.zero_()
    assert x.grad.item() == 0.0 and w.grad.item() == 0.0 and b.grad.item() == 0.0

    y = w * x + b
    loss = y - 5
    loss.backward()
    print(x.grad)  # dy/dx
    print(w.grad)  # dy/dw
    print(b.grad)  # dy/db
    assert capsys.readouterr().out == "tensor(2.)\ntensor(1.)\ntensor(1.)\n"

    # 高阶梯度: as written, z = y * y backpropagates into y's graph, which
    # loss.backward() already freed (w * x saved its inputs): PyTorch errors.
    z = y * y
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            z.backward(create_graph=True)


def test_seed001_higher_order_intended():
    # The intended version of the "高阶梯度" example, on a fresh graph.
    x = torch.tensor(1.0, requires_grad=True)
    w = torch.tensor(2.0, requires_grad=True)
    b = torch.tensor(3.0, requires_grad=True)
    y = w * x + b
    z = y * y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch warns about a reference cycle here
        z.backward(create_graph=True)

    x_grad = x.grad
    # dz/dx = 2*y*w = 2*5*2 = 20, and it is itself differentiable
    assert x_grad.item() == 20.0
    assert x_grad.requires_grad is True
    x_grad2 = torch.autograd.grad(outputs=x_grad, inputs=x)[0]
    # d2z/dx2 = 2*w*w = 8
    assert str(x_grad2) == "tensor(8.)"
    assert x_grad2.requires_grad is False
    assert w.grad.item() == 10.0 and b.grad.item() == 10.0


def test_seed001_dynamic_graph_branch():
    x = torch.tensor(1.0, requires_grad=True)
    if x > 0:
        y = x * 2
    else:
        y = x / 2
    y.backward()
    assert x.grad.item() == 2.0
    assert fn_name(y.grad_fn) == "MulBackward0"

    x = torch.tensor(-1.0, requires_grad=True)
    if x > 0:
        y = x * 2
    else:
        y = x / 2
    y.backward()
    assert x.grad.item() == 0.5
    assert fn_name(y.grad_fn) == "DivBackward0"


def test_seed001_requires_grad_and_no_grad(capsys):
    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)

    with torch.no_grad():
        y = x * 2  # 在这里不会追踪 y 的梯度计算

    z = x * 3
    z.backward(torch.tensor([1.0, 1.0, 1.0]))
    print(x.grad)  # 只有 z 的梯度被计算
    assert capsys.readouterr().out == "tensor([3., 3., 3.])\n"
    assert y.requires_grad is False and y.grad_fn is None
    assert str(y) == "tensor([2., 4., 6.])"


def test_seed001_custom_function_myrelu(capsys):
    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    x = torch.tensor([-1.0, 1.0, 2.0], requires_grad=True)
    y = MyReLU.apply(x)
    y.backward(torch.tensor([1.0, 1.0, 1.0]))
    print(x.grad)  # 输出梯度
    assert capsys.readouterr().out == "tensor([0., 1., 1.])\n"
    assert str(y) == "tensor([0., 1., 2.], grad_fn=<MyReLUBackward>)"


def test_seed001_checkpoint():
    import tape.utils.checkpoint as checkpoint

    def run_fn(x):
        return x * 2

    x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = checkpoint.checkpoint(run_fn, x, use_reentrant=False)
    y.backward(torch.tensor([1.0, 1.0, 1.0]))
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert y.tolist() == [2.0, 4.0, 6.0]


# ---------------------------------------------------------------------------
# seed 002: "深度学习运算函数和自动微分模块"
# ---------------------------------------------------------------------------

SEED002_OPS_OUT = """\
tensor([[4., 0., 7.],
        [6., 3., 5.]], dtype=torch.float64)
--------------------------------------------------
tensor(4.1667, dtype=torch.float64)
tensor([5.0000, 1.5000, 6.0000], dtype=torch.float64)
tensor([3.6667, 4.6667], dtype=torch.float64)
--------------------------------------------------
tensor(25., dtype=torch.float64)
tensor([10.,  3., 12.], dtype=torch.float64)
tensor([11., 14.], dtype=torch.float64)
--------------------------------------------------
tensor([[16.,  0., 49.],
        [36.,  9., 25.]], dtype=torch.float64)
--------------------------------------------------
tensor([[2.0000, 0.0000, 2.6458],
        [2.4495, 1.7321, 2.2361]], dtype=torch.float64)
--------------------------------------------------
tensor([[5.4598e+01, 1.0000e+00, 1.0966e+03],
        [4.0343e+02, 2.0086e+01, 1.4841e+02]], dtype=torch.float64)
--------------------------------------------------
tensor([[1.3863,   -inf, 1.9459],
        [1.7918, 1.0986, 1.6094]], dtype=torch.float64)
tensor([[2.0000,   -inf, 2.8074],
        [2.5850, 1.5850, 2.3219]], dtype=torch.float64)
tensor([[0.6021,   -inf, 0.8451],
        [0.7782, 0.4771, 0.6990]], dtype=torch.float64)
"""


def _seed002_ops(data):
    print(data)
    print('-' * 50)

    # 1. 计算均值
    print(data.mean())
    print(data.mean(dim=0))  # 按列计算均值
    print(data.mean(dim=1))  # 按行计算均值
    print('-' * 50)

    # 2. 计算总和
    print(data.sum())
    print(data.sum(dim=0))
    print(data.sum(dim=1))
    print('-' * 50)

    # 3. 计算平方
    print(data.pow(2))
    print('-' * 50)

    # 4. 计算平方根
    print(data.sqrt())
    print('-' * 50)

    # 5. 指数计算, e^n 次方
    print(data.exp())
    print('-' * 50)

    # 6. 对数计算
    print(data.log())  # 以 e 为底
    print(data.log2())
    print(data.log10())


def test_seed002_ops_printed_output(capsys):
    # The data the tutorial's printed output was produced with.
    data = torch.tensor([[4., 0., 7.], [6., 3., 5.]], dtype=torch.float64)
    _seed002_ops(data)
    assert capsys.readouterr().out == SEED002_OPS_OUT


def test_seed002_ops_random_data(capsys):
    data = torch.randint(0, 10, [2, 3], dtype=torch.float64)
    assert data.dtype == torch.float64
    assert tuple(data.shape) == (2, 3)
    _seed002_ops(data)  # must run
    out = capsys.readouterr().out
    assert out.count("dtype=torch.float64") == 13

    a = data.numpy()
    assert np.all(a == np.floor(a)) and a.min() >= 0 and a.max() <= 9
    assert data.mean().dtype == torch.float64
    assert close(data.mean().item(), a.mean(), 1e-12)
    assert tuple(data.mean(dim=0).shape) == (3,)
    assert close(data.mean(dim=0).numpy(), a.mean(axis=0), 1e-12)
    assert tuple(data.mean(dim=1).shape) == (2,)
    assert close(data.mean(dim=1).numpy(), a.mean(axis=1), 1e-12)
    assert data.sum().item() == a.sum()
    assert data.sum(dim=0).tolist() == a.sum(axis=0).tolist()
    assert data.sum(dim=1).tolist() == a.sum(axis=1).tolist()
    assert data.pow(2).tolist() == (a ** 2).tolist()
    assert close(data.sqrt().numpy(), np.sqrt(a), 1e-12)
    assert close(data.exp().numpy(), np.exp(a), 1e-12)
    with np.errstate(divide="ignore"):
        assert close(data.log().numpy(), np.log(a), 1e-12)
        assert close(data.log2().numpy(), np.log2(a), 1e-12)
        assert close(data.log10().numpy(), np.log10(a), 1e-12)
    for r in (data.pow(2), data.sqrt(), data.exp(), data.log(), data.log2(), data.log10()):
        assert r.dtype == torch.float64 and tuple(r.shape) == (2, 3)


def test_seed002_mean_of_integer_tensor_errors():
    # "注意: tensor 必须为 Float 或者 Double 类型"
    data = torch.randint(0, 10, [2, 3])
    assert data.dtype == torch.int64
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype"):
        data.mean()


SEED002_GRAD_OUT = """\
tensor(20., dtype=torch.float64)
tensor([ 5., 10., 15., 20.], dtype=torch.float64)
tensor(40., dtype=torch.float64) tensor(50., dtype=torch.float64)
tensor([1300., 2800.], dtype=torch.float64, grad_fn=<AddBackward0>)
tensor([50., 80.], dtype=torch.float64) tensor([ 70., 100.], dtype=torch.float64)
"""


def test_seed002_gradient_basics(capsys):
    # 1. 单标量梯度的计算
    def test01():
        x = torch.tensor(10, requires_grad=True, dtype=torch.float64)
        f = x ** 2 + 20
        f.backward()
        print(x.grad)

    # 2. 单向量梯度的计算
    def test02():
        x = torch.tensor([10, 20, 30, 40], requires_grad=True, dtype=torch.float64)
        f1 = x ** 2 + 20
        f2 = f1.mean()  # f2 = 1/2 * x
        f2.backward()
        print(x.grad)

    # 3. 多标量梯度计算
    def test03():
        x1 = torch.tensor(10, requires_grad=True, dtype=torch.float64)
        x2 = torch.tensor(20, requires_grad=True, dtype=torch.float64)
        y = x1**2 + x2**2 + x1*x2
        y = y.sum()
        y.backward()
        print(x1.grad, x2.grad)

    # 4. 多向量梯度计算
    def test04():
        x1 = torch.tensor([10, 20], requires_grad=True, dtype=torch.float64)
        x2 = torch.tensor([30, 40], requires_grad=True, dtype=torch.float64)
        y = x1 ** 2 + x2 ** 2 + x1 * x2
        print(y)
        y = y.sum()
        y.backward()
        print(x1.grad, x2.grad)

    test01()
    test02()
    test03()
    test04()
    assert capsys.readouterr().out == SEED002_GRAD_OUT


def _seed002_control_test01():
    x = torch.tensor(10, requires_grad=True, dtype=torch.float64)
    print(x.requires_grad)

    # 第一种方式: 对代码进行装饰
    with torch.no_grad():
        y = x ** 2
    print(y.requires_grad)

    # 第二种方式: 对函数进行装饰
    @torch.no_grad()
    def my_func(x):
        return x ** 2
    print(my_func(x).requires_grad)

    # 第三种方式
    torch.set_grad_enabled(False)
    y = x ** 2
    print(y.requires_grad)


def _seed002_control_test02():
    x = torch.tensor([10, 20, 30, 40], requires_grad=True, dtype=torch.float64)

    for _ in range(3):
        f1 = x ** 2 + 20
        f2 = f1.mean()
        if x.grad is not None:
            x.grad.data.zero_()
        f2.backward()
        print(x.grad)
    return x


def test_seed002_control_no_grad_three_ways(capsys):
    try:
        assert torch.is_grad_enabled() is True
        _seed002_control_test01()
        assert capsys.readouterr().out == "True\nFalse\nFalse\nFalse\n"
        # the function form leaves grad mode off
        assert torch.is_grad_enabled() is False
    finally:
        torch.set_grad_enabled(True)
    assert torch.is_grad_enabled() is True


def test_seed002_control_main_order_errors():
    # The file's __main__ runs test01() then test02(): in PyTorch grad mode is
    # still off when test02 calls backward, so it errors.
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            _seed002_control_test01()
            with pytest.raises(RuntimeError,
                               match="element 0 of tensors does not require grad"):
                _seed002_control_test02()
    finally:
        torch.set_grad_enabled(True)


def test_seed002_control_accumulation_zeroed(capsys):
    x = _seed002_control_test02()
    expected = "tensor([ 5., 10., 15., 20.], dtype=torch.float64)\n" * 3
    assert capsys.readouterr().out == expected
    assert x.grad.tolist() == [5.0, 10.0, 15.0, 20.0]


def test_seed002_gradient_descent_5000_steps(capsys):
    # 3. 梯度下降优化最优解: y = x**2
    def test03():
        x = torch.tensor(10, requires_grad=True, dtype=torch.float64)

        for _ in range(5000):
            # 正向计算
            f = x ** 2
            # 梯度清零
            if x.grad is not None:
                x.grad.data.zero_()
            # 反向传播计算梯度
            f.backward()
            # 更新参数
            x.data = x.data - 0.001 * x.grad
            print('%.10f' % x.data)
        return x

    x = test03()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5000
    assert lines[0] == "9.9800000000"
    assert lines[1] == "9.9600400000"
    assert lines[2] == "9.9401199200"
    # each step is x <- x - 0.001 * 2x = 0.998 x
    expected = 10 * 0.998 ** 5000
    assert lines[-1] == "%.10f" % expected == "0.0004494759"
    for i in (9, 99, 999, 2499, 4999):
        assert abs(float(lines[i]) - 10 * 0.998 ** (i + 1)) < 2e-10
    assert x.dtype == torch.float64
    assert x.is_leaf is True and x.requires_grad is True
    assert math.isclose(x.item(), expected, rel_tol=1e-10)
    # the last gradient is 2x before the last update: 2 * 10 * 0.998**4999
    assert math.isclose(x.grad.item(), 2 * 10 * 0.998 ** 4999, rel_tol=1e-10)


def test_seed002_numpy_requires_detach(capsys):
    # 1. detach 函数用法
    x = torch.tensor([10, 20], requires_grad=True, dtype=torch.float64)

    # Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.
    with pytest.raises(RuntimeError, match=re.escape(
            "Can't call numpy() on Tensor that requires grad. "
            "Use tensor.detach().numpy() instead.")):
        print(x.numpy())  # 错误
    print(x.detach().numpy())  # 正确
    assert capsys.readouterr().out == "[10. 20.]\n"
    assert isinstance(x.detach().numpy(), np.ndarray)
    assert x.detach().numpy().dtype == np.float64


def test_seed002_detach_shares_memory(capsys):
    # 2. detach 前后张量共享内存
    x1 = torch.tensor([10, 20], requires_grad=True, dtype=torch.float64)

    # x2 作为叶子结点
    x2 = x1.detach()
    assert x2.is_leaf is True
    assert x2.requires_grad is False

    # 两个张量的值一样: 140421811165776 140421811165776
    print(id(x1.data), id(x2.data))
    first = capsys.readouterr().out
    assert re.fullmatch(r"\d+ \d+\n", first), first

    # the detached tensor and the original share their data
    assert np.shares_memory(x1.data.numpy(), x2.numpy())

    x2.data = torch.tensor([100, 200])
    print(x1)
    print(x2)

    # x2 不会自动计算梯度: False
    print(x2.requires_grad)
    assert capsys.readouterr().out == (
        "tensor([10., 20.], dtype=torch.float64, requires_grad=True)\n"
        "tensor([100, 200])\n"
        "False\n"
    )
    # assigning .data replaced x2's data (dtype included) without touching x1
    assert x2.dtype == torch.int64
    assert x1.dtype == torch.float64


# ---------------------------------------------------------------------------
# seed 003: notebook (``import torch as t`` in later cells)
# ---------------------------------------------------------------------------

def test_seed003_scalar_backward_cells(capsys):
    # In [1]
    x = torch.Tensor([2])

    w = torch.randn(1, requires_grad=True)
    b = torch.randn(1, requires_grad=True)

    y = torch.mul(x, w)
    z = torch.add(y, b)

    print('x,y,z,w,b是否为叶子节点:{},{},{},{},{}'.format(x.is_leaf, y.is_leaf, z.is_leaf, w.is_leaf, b.is_leaf))
    print('x,w, b 的属性为{},{},{}'.format(x.requires_grad, w.requires_grad, b.requires_grad))
    print('y, z 的 require_grad属性：{},{}'.format(y.requires_grad, z.requires_grad))
    print('x, w, b grad_fn is {},{},{}'.format(x.grad_fn, w.grad_fn, b.grad_fn))
    print('y, z grad_fn is {},{}'.format(y.grad_fn, z.grad_fn))

    out = capsys.readouterr().out.splitlines()
    assert out[:4] == [
        "x,y,z,w,b是否为叶子节点:True,False,False,True,True",
        "x,w, b 的属性为False,True,True",
        "y, z 的 require_grad属性：True,True",
        "x, w, b grad_fn is None,None,None",
    ]
    assert re.fullmatch(
        r"y, z grad_fn is <MulBackward0 object at 0x[0-9a-fA-F]+>,"
        r"<AddBackward0 object at 0x[0-9a-fA-F]+>", out[4]), out[4]
    assert len(out) == 5

    z.backward(retain_graph=True)  # 梯度累加 ？

    print('w, b grad is{},{}'.format(w.grad, b.grad))
    with pytest.warns(UserWarning, match=NONLEAF_GRAD_WARNING):
        print('y, z grad is {}, {}'.format(y.grad, z.grad))
    assert capsys.readouterr().out == (
        "w, b grad istensor([2.]),tensor([1.])\n"
        "y, z grad is None, None\n"
    )

    # In [3]: the graph was retained by In [1], so this backward works and
    # accumulates ...
    z.backward()
    print('参数w,b的梯度为:{},{}'.format(w.grad, b.grad))
    assert capsys.readouterr().out == "参数w,b的梯度为:tensor([4.]),tensor([2.])\n"
    # ... and running the cell again gives the error the tutorial shows.
    with pytest.raises(RuntimeError, match=SECOND_BACKWARD):
        z.backward()


def test_seed003_autograd_vs_manual_derivative(capsys):
    # In [58]
    def f(x):
        '''计算y'''
        y = x**2 * t.exp(x)
        return y

    def gradf(x):
        '''手动求导函数'''
        dx = 2 * x * t.exp(x) + x ** 2 * t.exp(x)
        return dx

    x = t.randn(3, 4, requires_grad=True)
    y = f(x)
    y.backward(t.ones(y.size()))

    print('grad by torch-autograd:', x.grad)
    print('grad by def:', gradf(x))
    out = capsys.readouterr().out
    assert out.startswith("grad by torch-autograd: tensor([[")
    assert "\ngrad by def: tensor([[" in out
    assert out.endswith("grad_fn=<AddBackward0>)\n")
    assert out.count("grad_fn=") == 1

    assert tuple(x.grad.shape) == (3, 4)
    assert x.grad.dtype == torch.float32
    assert x.grad.requires_grad is False
    manual = gradf(x).detach().numpy()
    assert np.allclose(x.grad.numpy(), manual, rtol=1e-5, atol=1e-6)
    xv = x.detach().numpy().astype(np.float64)
    assert np.allclose(x.grad.numpy(), (2 * xv + xv ** 2) * np.exp(xv), rtol=1e-5, atol=1e-6)


def test_seed003_grad_fn_next_functions(capsys):
    # In [60]
    x = t.ones(1)
    b = t.rand(1, requires_grad=True)
    w = t.rand(1, requires_grad=True)
    y = w.mul(x)
    z = y.add(b)

    # In [84]
    print(z.grad_fn)
    print(z.grad_fn.next_functions)
    assert (z.grad_fn.next_functions[0][0] == y.grad_fn) is True

    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"<AddBackward0 object at 0x[0-9a-fA-F]+>", out[0]), out[0]
    assert re.fullmatch(
        r"\(\(<MulBackward0 object at 0x[0-9a-fA-F]+>, 0\), "
        r"\(<AccumulateGrad object at 0x[0-9a-fA-F]+>, 0\)\)", out[1]), out[1]
    assert next_structure(z.grad_fn) == (("MulBackward0", 0), ("AccumulateGrad", 0))
    assert z.grad_fn.next_functions[1][0].variable is b
    assert next_structure(y.grad_fn) == (("AccumulateGrad", 0), (None, 0))
    assert y.grad_fn.next_functions[0][0].variable is w

    # 保存计算图梯度的buffer，多次反向传播，梯度累加
    z.backward(retain_graph=True)
    assert str(w.grad) == "tensor([1.])"
    # The page shows tensor([24.]): the cell was run 24 times.
    for _ in range(23):
        z.backward(retain_graph=True)
    assert str(w.grad) == "tensor([24.])"
    assert str(b.grad) == "tensor([24.])"


def test_seed003_set_grad_enabled_and_no_grad(capsys):
    # In [88]
    try:
        t.set_grad_enabled(False)
        # 或
        with t.no_grad():
            x = t.ones(1)
            w = t.rand(1, requires_grad=True)
            y = x.mul(w)
        print(x.requires_grad, w.requires_grad, y.requires_grad)
        assert capsys.readouterr().out == "False True False\n"
        # leaving no_grad restores the mode that was active before (off)
        assert t.is_grad_enabled() is False
        y2 = x.mul(w)
        assert y2.requires_grad is False
    finally:
        t.set_grad_enabled(True)
    assert w.is_leaf is True
    assert y.grad_fn is None


def test_seed003_data_outside_graph_random(capsys):
    # In [129], with its random data
    x = t.rand(10, requires_grad=True)
    print(x)
    print(x.data)
    before = x.detach().numpy().copy()

    # 改变数据
    x.data *= 100
    print(x)
    out = capsys.readouterr().out
    assert out.count("requires_grad=True") == 2
    assert np.all((before >= 0) & (before < 1))
    assert np.allclose(x.detach().numpy(), before * 100, rtol=1e-6)
    assert x.requires_grad is True and x.is_leaf is True
    assert x.data.requires_grad is False
    assert x.grad_fn is None


SEED003_DATA_OUT = """\
tensor([0.0893, 0.1730, 0.1023, 0.2946, 0.5129, 0.2371, 0.1064, 0.9711, 0.8577,
        0.0347], requires_grad=True)
tensor([0.0893, 0.1730, 0.1023, 0.2946, 0.5129, 0.2371, 0.1064, 0.9711, 0.8577,
        0.0347])
tensor([ 8.9300, 17.3000, 10.2300, 29.4600, 51.2900, 23.7100, 10.6400, 97.1100,
        85.7700,  3.4700], requires_grad=True)
"""


def test_seed003_data_outside_graph_printed(capsys):
    # In [129], with the values the page printed
    x = t.tensor([0.0893, 0.1730, 0.1023, 0.2946, 0.5129, 0.2371, 0.1064, 0.9711,
                  0.8577, 0.0347], requires_grad=True)
    print(x)
    print(x.data)
    x.data *= 100
    print(x)
    assert capsys.readouterr().out == SEED003_DATA_OUT
