"""PyTorch code run with ``sys.modules["torch"] = tape``: torch's submodules resolve to tape's own
modules (not second copies with their own state).  In a fresh process, so that the alias cannot
reach the tests that import the real torch."""
import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)


def test_submodule_imports_under_the_alias_are_tapes_modules():
    r = _run("""
        import sys
        import tape
        sys.modules["torch"] = tape
        import torch
        import torch.autograd.forward_ad as fwAD
        from torch.autograd.functional import jacobian
        from torch.utils.checkpoint import checkpoint
        from torch.autograd import Function
        assert fwAD is tape.autograd.forward_ad
        assert jacobian is tape.autograd.functional.jacobian
        assert checkpoint is tape.utils.checkpoint.checkpoint
        assert Function is tape.autograd.Function
        assert sys.modules["torch.autograd"] is tape.autograd
        # one grad mode, whichever name sets it
        with torch.autograd.grad_mode.no_grad():
            assert not tape.is_grad_enabled()
        x = torch.ones(2, 2, requires_grad=True)
        assert jacobian(lambda t: t.exp().sum(1), x).shape == (2, 2, 2)
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_a_missing_submodule_under_the_alias():
    r = _run("""
        import sys
        import tape
        sys.modules["torch"] = tape
        for name in ("torch.fft", "torch.no_such_module"):
            try:
                __import__(name)
            except ModuleNotFoundError as e:
                print(e.name, "|", e)
    """)
    assert r.returncode == 0, r.stderr
    missing, other = r.stdout.strip().splitlines()
    assert missing == ("torch.fft | No module named 'torch.fft': tape does not implement "
                       "PyTorch's torch.fft yet (README.md, 'Not yet', lists what is missing)")
    assert other == "torch.no_such_module | No module named 'torch.no_such_module'"


def test_other_top_level_names_are_left_alone():
    r = _run("""
        import sys
        import tape
        import tape.autograd.functional
        assert "torch.autograd" not in sys.modules
        import json.decoder
        print("ok")
    """)
    assert r.returncode == 0, r.stderr
