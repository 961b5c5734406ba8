"""``tape.viz``: the DOT text draws exactly the graph that ``grad_fn``/``next_functions`` show."""
from __future__ import annotations

import re

import tape
from tape._graph import AccumulateGrad


def _parse(dot: str):
    labels = dict(re.findall(r"^\s+(\w+) \[label=\"((?:[^\"\\]|\\.)*)\"", dot, re.M))
    edges = re.findall(r"^\s+(\w+) -> (\w+);", dot, re.M)
    return labels, edges


def _graph_of(y):
    """Labels (name, or leaf shape) of each node and its edges, walked from next_functions."""
    nodes, edges, todo = {}, set(), [y.grad_fn]
    while todo:
        fn = todo.pop()
        key = id(fn.variable) if isinstance(fn, AccumulateGrad) else (type(fn).__name__, hash(fn))
        if key in nodes:
            continue
        nodes[key] = "leaf" if isinstance(fn, AccumulateGrad) else type(fn).__name__
        for nxt, _ in fn.next_functions:
            if nxt is not None:
                nkey = id(nxt.variable) if isinstance(nxt, AccumulateGrad) else (type(nxt).__name__, hash(nxt))
                edges.add((nkey, key))
                todo.append(nxt)
    return nodes, edges


def test_dot_nodes_and_edges_match_next_functions():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    w = tape.ones(2, 3, requires_grad=True)
    h = (x.sin() * x).unsqueeze(0)
    y = (h @ w + h.sum()).exp().sum()
    labels, edges = _parse(tape.viz.to_dot(y, {"x": x, "w": w}))
    nodes, true_edges = _graph_of(y)
    names = sorted(label.split("\\n")[0] for k, label in labels.items() if k != "output")
    expected = sorted({"leaf": None}.get(v, v) or "" for v in nodes.values())
    assert [n for n in names if n not in ("x", "w")] == [e for e in expected if e]
    assert len(edges) - 1 == len(true_edges)            # (plus the edge into the output ellipse)
    assert ("n0", "output") in edges and labels["n0"] == "SumBackward0"
    assert labels["output"] == "() torch.float32"
    leaves = {k: v for k, v in labels.items() if v.startswith(("x\\n", "w\\n"))}
    assert sorted(leaves.values()) == ["w\\n(2, 3) torch.float32", "x\\n(2,) torch.float32"]
    assert any(v == "MulBackward0\\nsaved: self, other" for v in labels.values())
    assert any(v == "SinBackward0\\nsaved: self" for v in labels.values())
    assert any(v == "ExpBackward0\\nsaved: result" for v in labels.values())
    # every edge joins drawn nodes, and each leaf feeds the nodes that next_functions name
    assert all(a in labels and b in labels for a, b in edges)
    x_id = next(k for k, v in labels.items() if v.startswith("x\\n"))
    assert sorted(labels[b] for a, b in edges if a == x_id) == ["MulBackward0\\nsaved: self, other",
                                                                 "SinBackward0\\nsaved: self"]


def test_dot_of_a_tensor_without_history_and_unnamed_leaves():
    labels, edges = _parse(tape.viz.to_dot(tape.zeros(3)))
    assert labels == {"output": "(3,) torch.float32"} and edges == []
    a = tape.tensor(2.0, dtype=tape.float64, requires_grad=True)
    labels, edges = _parse(tape.viz.to_dot(a * a))
    assert sorted(labels.values()) == ["() torch.float64", "() torch.float64", "MulBackward0\\nsaved: self, other"]
    assert len(edges) == 3          # a -> mul twice (both operands), mul -> output


def test_listing_is_the_tapes_rows():
    x = tape.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    text = tape.viz.listing(y)
    assert "EXP" in text and text == tape.format_tape(y)
    assert tape.viz.listing(x) == "(a leaf: not recorded on a tape)"
