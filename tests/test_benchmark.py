"""The speed benchmark runs and reports every figure it promises (on a small slice, so its numbers mean nothing)."""

import re

from conftest import run_script


def test_benchmark_runs_and_reports(small_mnist):
    result = run_script("benchmarks/speed.py", "--repeats", "1", "--data-dir", small_mnist,
                        "--validation-size", "500", timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr
    output = result.stdout
    assert re.search(r"project / GEMM only\s+\d+\.\d\dx", output)
    assert re.search(r"of which clipping\s+\d+\.\d+s\s+\d+\.\d% of the epoch", output)
    assert re.search(r"scikit-learn (epoch\s+\d+\.\d+s|\s+not installed)", output)
    for method in ("shift", "affine", "elastic"):
        assert re.search(rf"{method}\s+\d+\.\d+s\s+\d+\.\d\dx of training", output)
    for part in ("matrix products", "im2col and col2im", "max-pooling", "everything else"):
        assert part in output
