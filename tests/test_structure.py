"""Structure detection drives method choice; the LP-LP path must be recognised."""

import pytest

import bilevel_mp as bmp
from bilevel_mp.library import classic
from bilevel_mp.library.random_lplp import random_lplp


@pytest.mark.parametrize("name,label", [
    ("Bard1984a", "LP-LP"),
    ("FrankeEtal2018Ex53", "QP-QP"),
    ("AiyoshiShimizu1984Ex2", "LP-QP"),
    ("MitsosBarton2006Ex35", "LP-NLP"),
    ("AnEtal2009", "QP-NCQP"),
    ("MooreBard1990Cont", "MILP-LP"),
    ("Colson2002BIPA3", "NLP-NLP"),
])
def test_labels(name, label):
    assert bmp.detect(classic.get(name)).label == label


def test_random_lplp_is_linear_jointly():
    s = bmp.detect(random_lplp(6, 0))
    assert s.label == "LP-LP" and s.lower_linear_in_xy and s.lower_y_matrix_constant


def test_x_dependent_hessian_is_not_called_convex():
    p = bmp.BilevelProblem(1, 1, x_bounds=[(-1, 1)])
    p.set_upper(p.x[0]).set_lower(p.x[0] * p.y[0] ** 2, [p.y[0] >= -1, p.y[0] <= 1])
    s = bmp.detect(p)
    assert not s.lower_convex and s.lower == "nonlinear"
