"""Derivative programs: each op's ``vjp`` rule, traced once into rows of integers.

The recorded backward (``create_graph=True``) runs in numba, which cannot call
the rules' Python lambdas.  So at import each rule is run once on symbolic
stand-ins (the adjoint ``G``, inputs ``X0``/``X1``, output ``Y`` and a row
whose attributes are symbols); every tensor op it makes becomes an instruction
that the compiled recorder replays row by row, appending the same rows the rule
would.  The rule stays the only statement of the derivative.

A rule that branches on a row attribute (``if r.fa == 0.0``) is traced once per
outcome, and each program keeps the guards that select it.  A rule, or one
branch of it, that uses something the tracer does not model (a matrix product,
an index list, a shape computed in Python) traces to no program: the recorder
hands such rows to Python, which runs the rule itself.
"""
from __future__ import annotations

import numpy as np

from .ops import elementwise as E
from .ops import linalg as L
from .ops import shape as S
from .ops._spec import N_CODES, REGISTRY, SOURCE, UNARY

# Registers: the four operands of every program, then one per instruction.
G, X0, X1, Y = range(4)
N_FIXED = 4

# Where a number comes from: a literal, or an affine function of a row attribute.
A_LIT, A_FA, A_FB, A_IA, A_IB, A_COUNT, A_LOGFA = range(7)
# Where a shape comes from (for reshape, expand, sum-to).
S_X0, S_X1, S_Y, S_KEEP, S_COLUMN, S_ROW = range(6)   # COLUMN/ROW: (-1, 1), (1, -1)
# Pseudo op codes for instructions that are not one row.
I_SUMTO = -1           # sum broadcast dims away: SUM (keepdim) then VIEW, or nothing
I_CAST = -2            # to the dtype of another register: a CAST row, or nothing

# Columns of ``INS`` (int64) and ``INSF`` (float64), one row per instruction.
(C_CODE, C_A, C_B, C_FA, C_FB, C_IA, C_IAV, C_IB, C_IBV, C_SHAPE, C_CONST, C_DEPS) = range(12)
(F_FAM, F_FAC, F_FBM, F_FBC) = range(4)
MAX_GUARDS = 4


class Untraceable(Exception):
    """The rule uses something a program cannot express; its rows run in Python."""


class _Num:
    """A number ``m * attribute + c`` taken from the row."""

    __slots__ = ("tr", "kind", "m", "c")

    def __init__(self, tr, kind, m=1.0, c=0.0):
        self.tr, self.kind, self.m, self.c = tr, kind, m, c

    def _affine(self, m, c):
        return _Num(self.tr, self.kind, m, c)

    def __add__(self, o):
        return self._affine(self.m, self.c + _lit(o))

    __radd__ = __add__

    def __sub__(self, o):
        return self._affine(self.m, self.c - _lit(o))

    def __rsub__(self, o):
        return self._affine(-self.m, _lit(o) - self.c)

    def __mul__(self, o):
        k = _lit(o)
        return self._affine(self.m * k, self.c * k)

    __rmul__ = __mul__

    def __truediv__(self, o):
        k = _lit(o)
        return self._affine(self.m / k, self.c / k)

    def __neg__(self):
        return self._affine(-self.m, -self.c)

    def __eq__(self, o):
        if self.m == 0 or self.kind == A_COUNT or self.kind == A_LOGFA:
            raise Untraceable("comparison of a derived number")
        return self.tr.decide(self.kind, (_lit(o) - self.c) / self.m)

    def __ne__(self, o):
        return not self.__eq__(o)

    __hash__ = None

    def __float__(self):
        raise Untraceable("a row attribute used as a Python number")

    __int__ = __index__ = __bool__ = __float__


def _lit(o) -> float:
    if isinstance(o, (int, float, np.number)) and not isinstance(o, bool):
        return float(o)
    raise Untraceable(f"operand {type(o).__name__}")


class _Shape:
    __slots__ = ("src",)

    def __init__(self, src):
        self.src = src

    def __iter__(self):
        raise Untraceable("a shape inspected in Python")

    __len__ = __getitem__ = __iter__


class _Index:
    """The row's flat index list (in the tape's ``ix`` at offset ``ia``); compiled code reuses
    it, so the program can only run on the tape that holds it."""

    __slots__ = ("tr", "ia", "shape")

    def __init__(self, tr, ia, shape=None):
        self.tr, self.ia, self.shape = tr, ia, shape

    def reshape(self, shape):
        if not isinstance(shape, _Shape):
            raise Untraceable("an index list shaped in Python")
        return _Index(self.tr, self.ia, shape)


class _Dtype:
    __slots__ = ("ref",)

    def __init__(self, ref):
        self.ref = ref


class _Row:
    """The row as a rule sees it: attributes are symbols."""

    def __init__(self, tr):
        self.fa = _Num(tr, A_FA)
        self.fb = _Num(tr, A_FB)
        self.ia = _Num(tr, A_IA)
        self.ib = _Num(tr, A_IB)
        self.count = _Num(tr, A_COUNT)
        self.log_fa = _Num(tr, A_LOGFA)
        self.in_shapes = (_Shape(S_X0), _Shape(S_X1))
        self.keep_shape = _Shape(S_KEEP)
        self.out_index_list = self.in_index_list = _Index(tr, self.ia)

    def __getattr__(self, name):
        raise Untraceable(f"row.{name}")


# Tensor methods without arguments that a rule may call (``x.cos()``): every elementwise op of
# one tensor with a forward of its own (those taking a number, such as ADDC, have none).
_UNARY_METHODS = {op.name: code for code, op in REGISTRY.items()
                  if code in UNARY and op.forward is not None and op.scalar is not None}


class _Sym:
    """A tensor in a rule: a register of the program being traced."""

    __slots__ = ("tr", "ref")

    def __init__(self, tr, ref):
        self.tr, self.ref = tr, ref

    @property
    def dtype(self):
        return _Dtype(self.ref)

    def _op(self, code, other=None, fa=0.0, fb=0.0, ia=0, ib=0, shape=-1, const=0):
        return self.tr.emit(code, self.ref, -1 if other is None else other.ref, fa, fb, ia, ib, shape, const)

    def _arith(self, o, code, code_c):
        if isinstance(o, _Sym):
            return self._op(code, o)
        return self._op(code_c, fa=o if isinstance(o, _Num) else _lit(o))

    def __add__(self, o):
        return self._arith(o, E.ADD, E.ADDC)

    def __radd__(self, o):
        return self._arith(o, E.ADD, E.ADDC)

    def __sub__(self, o):
        return self._arith(o, E.SUB, E.SUBC)

    def __rsub__(self, o):
        return self._arith(o, E.SUB, E.RSUBC)

    def __mul__(self, o):
        return self._arith(o, E.MUL, E.MULC)

    def __rmul__(self, o):
        return self._arith(o, E.MUL, E.MULC)

    def __truediv__(self, o):
        return self._arith(o, E.DIV, E.DIVC)

    def __pow__(self, o):
        return self._arith(o, E.POW, E.POWC)

    def __neg__(self):
        return self._op(E.NEG)

    def __getattr__(self, name):
        code = _UNARY_METHODS.get(name)
        if code is None:
            raise Untraceable(f"tensor.{name}")
        return lambda: self._op(code)

    def _masked(self, mask):
        return self._op(E.MASKED, mask)

    def _mask(self, kind, lo=0.0, hi=0.0, constant=False):
        return self._op(E.MASK, fa=lo, fb=hi, ia=kind, const=int(constant))

    def to(self, dtype):
        if not isinstance(dtype, _Dtype):
            raise Untraceable("to() a fixed dtype")
        return self.tr.emit(I_CAST, self.ref, dtype.ref, 0.0, 0.0, 0, 0, -1, 0)

    def _shaped(self, code, shape, ia=0):
        if not isinstance(shape, _Shape):
            raise Untraceable("a shape given as numbers")
        return self._op(code, ia=ia, shape=shape.src)

    def reshape(self, *shape):
        if shape == (-1, 1) or shape == (1, -1):
            return self._op(S.VIEW, ia=S.V_VIEW, shape=S_COLUMN if shape[1] == 1 else S_ROW)
        return self._shaped(S.VIEW, shape[0] if len(shape) == 1 else shape, S.V_VIEW)

    def expand(self, shape):
        return self._shaped(S.EXPAND, shape)

    def _sum_to(self, shape):
        return self._shaped(I_SUMTO, shape)

    def transpose(self, d0, d1):
        return self._op(S.TRANSPOSE, ia=d0, ib=d1)

    def select(self, dim, index):
        return self._op(S.SELECT, ia=dim, ib=index)

    def _embed(self, dim, index, shape):
        if not isinstance(shape, _Shape):
            raise Untraceable("a shape given as numbers")
        return self._op(S.EMBED, ia=dim, ib=index, shape=shape.src)

    def t(self):
        return self._op(S.TRANSPOSE, ia=0, ib=-1, fa=1.0)

    def _triangle(self, diagonal, upper):
        return self._op(S.TRIANGLE, ia=diagonal, ib=upper)

    def __matmul__(self, o):
        if not isinstance(o, _Sym):
            raise Untraceable("a product with a non-tensor")
        self.tr.matmul = True
        return self._op(L.MATMUL, o)

    def _scatter(self, index, shape):
        if not isinstance(index, _Index) or not isinstance(shape, _Shape):
            raise Untraceable("an index list or shape made in Python")
        self.tr.index = True
        return self._op(S.SCATTER, ia=index.ia, shape=shape.src)

    def _gather(self, index, kind):
        if not isinstance(index, _Index) or index.shape is None:
            raise Untraceable("an index list made in Python")
        self.tr.index = True
        return self._op(S.INDEX if kind == S.BY_INDEX else S.GATHER, ia=index.ia, ib=kind, shape=index.shape.src)

    def _untraceable(self, *args):
        raise Untraceable("a comparison or truth value of a tensor")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __bool__ = _untraceable
    __hash__ = None


def _num_spec(v):
    """(kind, m, c) for a float attribute of an instruction."""
    if isinstance(v, _Num):
        return v.kind, v.m, v.c
    return A_LIT, 0.0, _lit(v)


def _int_spec(v):
    if isinstance(v, _Num):
        if v.kind not in (A_IA, A_IB) or v.m != 1.0 or v.c != 0.0:
            raise Untraceable("an int attribute derived in Python")
        return v.kind, 0
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        return A_LIT, int(v)
    raise Untraceable("an int operand")


class _Trace:
    def __init__(self, decisions):
        self.decisions = decisions
        self.pos = 0
        self.guards = []
        self.ins = []           # (int columns, float columns)
        self.matmul = False     # the program multiplies matrices (1-D/2-D only in compiled code)
        self.index = False      # the program reuses the row's index list (same tape only)

    def decide(self, kind, value):
        if self.pos == len(self.decisions):
            self.decisions.append(False)
        out = self.decisions[self.pos]
        self.pos += 1
        self.guards.append((kind, value, out))
        return out

    def emit(self, code, a, b, fa, fb, ia, ib, shape, const):
        fak, fam, fac = _num_spec(fa)
        fbk, fbm, fbc = _num_spec(fb)
        iak, iav = _int_spec(ia)
        ibk, ibv = _int_spec(ib)
        row = [0] * 12
        row[C_CODE], row[C_A], row[C_B] = code, a, b
        row[C_FA], row[C_FB], row[C_IA], row[C_IAV], row[C_IB], row[C_IBV] = fak, fbk, iak, iav, ibk, ibv
        row[C_SHAPE], row[C_CONST] = shape, const
        self.ins.append((row, [fam, fac, fbm, fbc]))
        return _Sym(self, N_FIXED + len(self.ins) - 1)


def _trace_path(op, decisions):
    tr = _Trace(decisions)
    xs = (_Sym(tr, X0), _Sym(tr, X1))[:op.arity]
    try:
        outs = op.vjp(_Sym(tr, G), xs, _Sym(tr, Y), _Row(tr))
        refs = []
        for o in outs:
            if o is not None and not (isinstance(o, _Sym) and o.tr is tr):
                raise Untraceable("a gradient that is not a traced tensor")
            refs.append(-1 if o is None else o.ref)
    except Exception:       # Untraceable, or a Python operation on a symbol (e.g. np.log)
        return tr.guards, None, None, 0
    # Which outputs each instruction serves, so that a row computes only the
    # gradients its inputs need.
    ins = tr.ins
    for k, ref in enumerate(refs):
        stack = [ref]
        while stack:
            j = stack.pop() - N_FIXED
            if j >= 0 and not ins[j][0][C_DEPS] >> k & 1:
                ins[j][0][C_DEPS] |= 1 << k
                stack.extend(r for r in ins[j][0][C_A:C_B + 1] if r >= N_FIXED)
    return tr.guards, ins, refs, int(tr.matmul) | int(tr.index) << 1


def _trace(op):
    """All paths of a rule: [(guards, instructions or None, output registers)]."""
    if op.arity not in (1, 2) or op.multi:
        return [([], None, None, 0)]       # programs have two input and one output registers
    paths = []
    todo = [[]]
    while todo:
        decisions = todo.pop()
        fixed = len(decisions)
        guards, ins, refs, needs = _trace_path(op, decisions)
        paths.append((guards, ins, refs, needs))
        for i in range(fixed, len(guards)):
            todo.append([g[2] for g in guards[:i]] + [True])
    return paths


def _build():
    """The program tables: per code its variants; per variant its guards and instructions."""
    vstart = np.full(N_CODES, 0, np.int64)
    vcount = np.zeros(N_CODES, np.int64)
    variants, guards_k, guards_v, ins_i, ins_f = [], [], [], [], []
    for code in sorted(REGISTRY):
        if code in SOURCE:
            continue
        vstart[code] = len(variants)
        for guards, ins, refs, needs in _trace(REGISTRY[code]):
            if len(guards) > MAX_GUARDS:
                raise ValueError(f"{REGISTRY[code].name}: more than {MAX_GUARDS} branches on attributes")
            gk = np.full((MAX_GUARDS, 2), -1, np.int64)
            gv = np.zeros(MAX_GUARDS)
            for j, (kind, value, out) in enumerate(guards):
                gk[j] = kind, int(out)
                gv[j] = value
            guards_k.append(gk)
            guards_v.append(gv)
            if ins is None:
                variants.append([len(guards), -1, 0, -1, -1, 0])
                continue
            refs = refs + [-1] * (2 - len(refs))
            variants.append([len(guards), len(ins_i), len(ins), refs[0], refs[1], needs])
            for row, frow in ins:
                ins_i.append(row)
                ins_f.append(frow)
        vcount[code] = len(variants) - vstart[code]
    return (vstart, vcount, np.array(variants, np.int64).reshape(-1, 6),
            np.array(guards_k, np.int64).reshape(-1, MAX_GUARDS, 2), np.array(guards_v).reshape(-1, MAX_GUARDS),
            np.array(ins_i, np.int64).reshape(-1, 12), np.array(ins_f, np.float64).reshape(-1, 4))


# VARIANT columns: number of guards, first instruction (-1: run in Python), count, output
# registers, and what compiled code must check first (bits NEEDS_*).
V_NGUARD, V_START, V_LEN, V_OUT0, V_OUT1, V_NEEDS = range(6)
NEEDS_MATMUL = 1     # multiplies matrices: 1-D/2-D operands only
NEEDS_INDEX = 2      # reuses the row's index list: the destination must be the swept tape
VSTART, VCOUNT, VARIANT, GUARD_KIND, GUARD_VALUE, INS, INSF = _build()
MAX_INS = int(VARIANT[:, V_LEN].max())


def compiled_codes() -> dict:
    """For reading and tests: code -> number of variants with a program / in all."""
    out = {}
    for code in REGISTRY:
        if code in SOURCE:
            continue
        vs = VARIANT[VSTART[code]:VSTART[code] + VCOUNT[code]]
        out[code] = (int((vs[:, V_START] >= 0).sum()), len(vs))
    return out

