"""The first-use kernel check: it compares real computations, so a kernel that is off is named."""

from __future__ import annotations

from test_ops_build import StandInExtension

from sdstylegan.ops.self_check import TOLERANCE, kernel_problems


def test_a_faithful_stand_in_has_no_problems_and_a_faulty_one_is_named_per_case():
    assert kernel_problems(StandInExtension(wrong=False), "cpu") == []
    problems = kernel_problems(StandInExtension(wrong=True), "cpu")
    assert len(problems) == 5  # three bias_act cases (bias twice) and two upfirdn2d cases (a tap missing)
    assert all("max |Δ|" in p or "shape" in p for p in problems)
    assert any(p.startswith("bias_act act=lrelu clamp=0.5") for p in problems)
    assert TOLERANCE < 1e-3
