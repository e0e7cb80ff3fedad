"""DAE-ACCUMULATE's delayed 1/k law (issue 12 item 8): with large lambda*/sigma2 the gain ||W_k|| = mu_k/(mu_k + sigma2)
first falls to 1/2 only after ~e^{lambda*/sigma2} rounds (the claim states rounds 32, 410, 13,320, 123,266 for
lambda*/sigma2 = 3, 5, 8, 10, renoise). The package's recursion is compared with an independent scalar loop
(A_{k+1} = A_k + f(A_k/(k + 1)), mu_k = A_k/(k + 1), f(mu) = mu^2/(mu + sigma2): plain Python floats)."""

import math

import numpy as np
import pytest

from collapse_theory.theory.dae import recursion

STATED_ONSET = {3.0: 32, 5.0: 410, 8.0: 13_320, 10.0: 123_266}


def scalar_onset(x0: float, max_rounds: int) -> tuple[int, list[float]]:
    """First k with mu_k <= sigma2 (gain <= 1/2), sigma2 = 1, and A_k for every k up to it (independent oracle)."""
    A, history = x0, [x0]
    for k in range(max_rounds + 1):
        mu = A / (k + 1)
        if mu <= 1.0:
            return k, history
        A += mu * mu / (mu + 1.0)
        history.append(A)
    raise AssertionError("no onset within max_rounds")


@pytest.mark.parametrize("x0", [3.0, 5.0, 8.0, 10.0])
def test_gain_first_falls_to_half_at_the_stated_round(x0):
    stated = STATED_ONSET[x0]
    onset, history = scalar_onset(x0, 2 * stated)
    assert onset == stated
    traj = recursion.dae_recursion([x0], 1.0, rounds=stated + 1, regime="accumulate", rule="renoise")
    gain = np.asarray(traj.op_norm).reshape(-1)
    assert int(np.argmax(gain <= 0.5)) == stated and gain[stated - 1] > 0.5
    # the accumulated mass A_k = (k + 1) mu_k of the package equals the scalar loop's (cumulative sums of k terms:
    # relative error <= k eps)
    mu = np.asarray(traj.training_eigenvalues).reshape(-1)
    A = mu[: stated + 1] * np.arange(1, stated + 2)
    oracle = np.array(history[: stated + 1])
    assert np.max(np.abs(A - oracle) / oracle) <= 4 * stated * np.finfo(float).eps
    # A_k is of order e^{lambda*/sigma2} at the onset: the gain is 1/2 when A_k ~ k + 1, i.e. k ~ A_inf
    assert 0.1 < A[-1] / math.exp(x0) < 10
