"""Bad input raises ValueError naming the argument."""

import numpy as np
import pytest

from collapse_theory.theory import dae_recursion, dae_recursion_matrix, fixed_point, optimal_dae


@pytest.mark.parametrize("kwargs, name", [
    (dict(sigma2=0.0), "sigma2"),
    (dict(sigma2=-1.0), "sigma2"),
    (dict(sigma2=np.nan), "sigma2"),
    (dict(sigma2=np.inf), "sigma2"),
    (dict(real_fraction=1.5, regime="mix"), "real_fraction"),
    (dict(real_fraction=-0.1, regime="mix"), "real_fraction"),
    (dict(real_fraction=0.3), "real_fraction"),  # replace regime takes no real data
    (dict(eigenvalues=[1.0, -1.0]), "eigenvalues"),
    (dict(eigenvalues=[1.0, np.nan]), "eigenvalues"),
    (dict(eigenvalues=[]), "eigenvalues"),
    (dict(eigenvalues=5.0), "eigenvalues"),
    (dict(eigenvalues="abc"), "eigenvalues"),
    (dict(regime="sometimes"), "regime"),
    (dict(rule="magic"), "rule"),
    (dict(rounds=-1), "rounds"),
    (dict(rounds=2.5), "rounds"),
    (dict(keep="some"), "keep"),
])
def test_recursion_errors_name_the_argument(kwargs, name):
    args = dict(eigenvalues=[4.0, 1.0], sigma2=0.1, real_fraction=0.0, rounds=5, regime="replace", rule="renoise")
    args.update(kwargs)
    with pytest.raises(ValueError, match=rf"^{name}"):
        dae_recursion(**args)


@pytest.mark.parametrize("matrix, fragment", [
    ([[1.0, 2.0], [0.0, 1.0]], "symmetric"),
    ([[1.0, 0.0], [0.0, -1.0]], "positive semi-definite"),
    ([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], "square"),
    ([1.0, 2.0], "square"),
    ([[1.0, np.nan], [np.nan, 1.0]], "finite"),
])
def test_matrix_errors_name_the_argument(matrix, fragment):
    with pytest.raises(ValueError, match=rf"^second_moment.*{fragment}"):
        dae_recursion_matrix(matrix, 0.1)
    with pytest.raises(ValueError, match=r"^second_moment"):
        optimal_dae(matrix, 0.1)


def test_fixed_point_errors():
    with pytest.raises(ValueError, match=r"^real_fraction"):
        fixed_point([1.0], 0.1, 2.0)
    with pytest.raises(ValueError, match=r"^sigma2"):
        fixed_point([1.0], 0.0, 0.5)


def test_seed_scalar_sigma2_and_single_matrix_name_the_argument():
    import numpy as np

    from collapse_theory.validation import check_scalar_sigma2, check_seed, check_single_psd_matrix

    assert check_seed(None) is None and check_seed(3) == 3
    with pytest.raises(ValueError, match="my_seed"):
        check_seed(-1, "my_seed")
    assert check_scalar_sigma2(0.5) == 0.5
    with pytest.raises(ValueError, match="noise must be a scalar"):
        check_scalar_sigma2([0.1, 0.2], "noise")
    assert check_single_psd_matrix(np.eye(2)).shape == (2, 2)
    with pytest.raises(ValueError, match="S must be a single"):
        check_single_psd_matrix(np.stack([np.eye(2)] * 3), "S")
