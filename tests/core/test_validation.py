import math

import pytest

from trainguard.core.errors import ConfigError, ParameterError
from trainguard.core.validation import check_choice, check_int, check_positive, check_real


def test_message_format_names_parameter_owner_and_value():
    with pytest.raises(ParameterError) as e:
        check_positive(-1, "eps", "pgd")
    assert str(e.value) == "The 'eps' parameter of pgd must be a float in (0, inf). Got -1 instead."
    assert isinstance(e.value, ValueError) and isinstance(e.value, ConfigError)


@pytest.mark.parametrize("bad", [math.nan, math.inf, 0, True, "1", None])
def test_positive_rejects(bad):
    with pytest.raises(ParameterError):
        check_positive(bad, "x", "f")


def test_real_bounds():
    assert check_real(0.0, "d", "f", low=0, high=1, high_open=True) == 0.0
    with pytest.raises(ParameterError, match=r"\[0, 1\)"):
        check_real(1.0, "d", "f", low=0, high=1, high_open=True)


def test_int_and_choice():
    assert check_int(3, "k", "f", low=1) == 3
    with pytest.raises(ParameterError):
        check_int(2.0, "k", "f")
    with pytest.raises(ParameterError, match="one of"):
        check_choice("l3", "norm", "pgd", {"linf", "l2"})
