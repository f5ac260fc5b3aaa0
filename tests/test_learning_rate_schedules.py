"""Learning-rate schedules at the points that define them."""

import pytest

from optimizers import learning_rate_at


def test_constant():
    assert [learning_rate_at(step, 100, 0.1, "constant") for step in (0, 50, 99)] == [0.1, 0.1, 0.1]


def test_step_divides_by_ten_at_half_and_three_quarters():
    rates = [learning_rate_at(step, 100, 1.0, "step") for step in (0, 49, 50, 74, 75, 99)]
    assert rates == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_cosine_falls_from_base_to_zero():
    assert learning_rate_at(0, 100, 0.2, "cosine") == pytest.approx(0.2)
    assert learning_rate_at(50, 100, 0.2, "cosine") == pytest.approx(0.1)
    assert learning_rate_at(100, 100, 0.2, "cosine") == pytest.approx(0.0, abs=1e-12)
    rates = [learning_rate_at(step, 100, 0.2, "cosine") for step in range(100)]
    assert rates == sorted(rates, reverse=True)


def test_warmup_ramps_up_linearly():
    rates = [learning_rate_at(step, 100, 1.0, "constant", warmup_steps=4) for step in range(6)]
    assert rates == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])


def test_unknown_schedule():
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        learning_rate_at(0, 10, 0.1, "linear")


def test_fractional_warmup_never_exceeds_the_base_rate():
    for warmup_steps in (2.5, 0.4):
        rates = [learning_rate_at(step, 100, 1.0, "constant", warmup_steps=warmup_steps) for step in range(5)]
        assert max(rates) == 1.0 and rates == sorted(rates)
