import math

from gantrack.study.figures import wants_log_scale


def test_a_collapsed_seed_puts_the_seed_axis_on_log_scale():
    assert wants_log_scale([2.2, 4.4, 9.5, 260.4])
    assert not wants_log_scale([2.2, 4.4, 9.5])  # 4.3x: the linear axis shows every box
    assert wants_log_scale([1.0, 21.0]) and not wants_log_scale([1.0, 20.0])


def test_a_value_a_log_axis_cannot_show_keeps_it_linear():
    assert not wants_log_scale([-0.01, 0.3, 29.9])  # an unbiased KID estimate below 0
    assert not wants_log_scale([0.0, 0.3, 29.9])
    assert not wants_log_scale([])
    assert wants_log_scale([math.nan, 1.0, 100.0])  # a missing seed is left out
