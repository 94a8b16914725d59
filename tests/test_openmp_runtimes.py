"""Issue [stability]: fastcca must never bring a second OpenMP runtime into a process.

torch's wheel bundles ``torch/lib/libgomp.so.1``.  Numba's "omp" threading layer links the
*system* ``libgomp.so.1.0.0`` -- a different file name, so when torch was imported first the
dynamic loader maps it as a second GNU OpenMP runtime next to torch's (with numba imported first
the SONAME matches and one copy is shared).  Any ``numba.get_num_threads()`` or
``numba.set_num_threads()`` call launches that layer, and fastcca made both calls (the chunk
count of ``center_checked``; ``paper_repro``'s thread limits) although its Numba kernels are
serial.  With two runtimes, torch's autograd crashed (SIGSEGV / SIGABRT) on a fresh machine in
``paper_repro``'s training loop.

Each check runs in a subprocess, so that a crash is a failed test rather than a dead runner, and
compares the OpenMP libraries loaded (threadpoolctl) before and after the fastcca work: the work
may use the runtimes torch and scikit-learn brought, and must add none.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("torch")
pytest.importorskip("threadpoolctl")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PRELUDE = """
import json, sys
import torch, sklearn.linear_model          # both bundle an OpenMP runtime; imported first
from threadpoolctl import threadpool_info

def openmp():
    return sorted({d["filepath"] for d in threadpool_info() if d["user_api"] == "openmp"})

before = openmp()
"""

_EPILOGUE = """
import threading
print("RESULT " + json.dumps({"before": before, "after": openmp(),
                              "numba_omppool": any("omppool" in l for l in open("/proc/self/maps")),
                              "threads": [t.name for t in threading.enumerate()]}))
"""


def _run(body: str, cwd: str, timeout: float = 600):
    code = textwrap.dedent(_PRELUDE) + textwrap.dedent(body) + textwrap.dedent(_EPILOGUE)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (f"subprocess died with rc {proc.returncode} "
                                  f"(negative: killed by signal {-proc.returncode})\n"
                                  f"--- stderr (tail) ---\n{proc.stderr[-4000:]}")
    line = next(l for l in proc.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def _assert_no_new_runtime(res):
    added = sorted(set(res["after"]) - set(res["before"]))
    assert not added, (f"fastcca loaded another OpenMP runtime beside {res['before']}: {added}")
    assert not res["numba_omppool"], "Numba's OpenMP threading layer was launched"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_measures_and_moments_add_no_openmp_runtime(tmp_path):
    res = _run("""
        import numpy as np, fastcca
        rng = np.random.default_rng(0)
        x = rng.standard_normal((4000, 64)); y = x[:, :48] + rng.standard_normal((4000, 48))
        m = fastcca.Moments()
        m.update(x, y)                                    # Numba centring and rank-1 kernels
        fastcca.cca(m); fastcca.svcca(m); fastcca.pwcca(m)
        z = rng.standard_normal((64, 8, 6, 6))
        fastcca.conv_cca(z, z + 0.5 * rng.standard_normal(z.shape))    # block thread pool
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                  torch.nn.LazyLinear(10))
        net(torch.randn(16, 3, 12, 12)).square().mean().backward()
    """, cwd=str(tmp_path))
    _assert_no_new_runtime(res)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_paper_repro_training_path_adds_no_openmp_runtime(tmp_path):
    # the path of the reported crash: pwcca-fig4 then svcca-fig4 at the tiny scale (thread
    # limits, conv grids on the block pool, then a ResNet's loss.backward())
    res = _run(f"""
        from paper_repro.context import RunContext
        from paper_repro.runner import run_figure
        for fig in ("pwcca-fig4", "svcca-fig4"):
            run_figure(fig, RunContext(scale="tiny", out={str(tmp_path)!r}, progress=False))
    """, cwd=str(tmp_path))
    _assert_no_new_runtime(res)
