"""Proof <-> numpy links of the law symbolic checks: the expression a proof proved, as a function of the inputs the
numpy function takes, evaluated in 40-digit arithmetic at exactly those float inputs
(:func:`collapse_theory.claims.proved.exact_values`), must equal the value of the numpy function users call
(collapse_theory/theory/laws/) within a tolerance derived from float rounding, never a fixed one.

Tolerance of one value f(x) (absolute, so that an exact value 0, e.g. a round-0 distance, is linked too):

    tol = c eps (|f| (1 + e) + sum_s |s df/ds| + sum_g r_g |df/dg|) + sum_h a_h |df/dh|,   c = 64.

- ``sum_s |s df/ds|`` = kappa |f|: kappa the relative condition number of f with respect to its inputs s (floats and
  counts alike, as :func:`~collapse_theory.claims.proved.relative_condition`), the project's c eps (1 + kappa);
- ``sum_g r_g |df/dg|``: every elementary intermediate g of the proved expression (sum, product, power, exp, log) is
  rounded once: r_g = |g| for a power or a function, (k - 1)|g| for a product of k factors and (k - 1) sum_i |a_i|
  for a sum of k terms a_i (recursive summation: each partial sum is rounded). The inputs that are counts (M, n, T, d, rounds)
  are exact in float, so kappa alone misses these: a base q = (M - 1)/M rounded once and raised to the power n is off
  by n eps relative (|q df/dq| = n |f|), and psi(k/2) + log(2/D) cancels;
- ``sum_h a_h |df/dh|``: a special function h evaluated by a scipy routine with a series or a recurrence contributes
  the routine's documented accuracy a_h (a peak error over the routine's domain, so not multiplied by c; cephes, which
  scipy.special uses):
  digamma psi(x), 0 < x <= 30: 1.3e-15 max(1, |psi(x)|) (absolute when |psi| < 1);
  Gamma(x), 0 < x < 33: relative max(9.4e-16, 5.4e-16 max(1, |ln Gamma(x)|) + eps |ln Gamma(x)|) (gamma directly, or
  exp of a gammaln difference: lgamma is relative/absolute 5.4e-16 on (0, 3], 3.5e-16 above, and exp adds
  eps |ln Gamma|); Riemann zeta(x), 1 < x <= 50: relative 9.8e-16 (zetac). An argument outside the documented
  domain gives an infinite tolerance, and a function with no documented accuracy here an error: the link fails;
- ``c eps e |f|``: e = the number of terms a numpy loop or cumulative sum adds that the proved expression holds as one
  exact number (e.g. n for sum_{i<=n} 1/i^2 = H2(n), a rational once n is given).

The derivatives df/ds and df/dg are taken in reverse mode over the proved expression's tree (each occurrence of a
subexpression on its own) and evaluated in 40 digits with f. c = 64 covers the second-order terms and numpy evaluating
the formula in another order than the proved tree.
A value passes iff |numpy - exact| <= tol; the link passes iff every value does. Evidence
``numpy_max_err_over_tol`` (the worst |numpy - exact|/tol), ``numpy_points`` and ``numpy_link_max_rel_err`` (the worst
|numpy - exact|/|exact| over the nonzero exact values).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..proved import exact_values

EPS = float(np.finfo(float).eps)
C_ROUNDING = 64.0
LINK_ERRORS = (ArithmeticError, ValueError, TypeError, AttributeError)
"""A proved expression that cannot be evaluated at a valid point (complex value, division by zero) fails the link."""
FAILED = {"ok": False, "numpy_max_err_over_tol": float("inf"), "numpy_points": 0, "numpy_link_max_rel_err": 1e300}
"""The link of a proved expression that cannot be evaluated (copy it: ``dict(FAILED)``)."""

ELEMENTARY = (sp.Add, sp.Mul, sp.Pow, sp.exp, sp.log)


def _psi_error(value: float, arg: float) -> float:
    return 1.3e-15 * max(1.0, abs(value)) if 0 < arg <= 30 else np.inf


def _gamma_error(value: float, arg: float) -> float:
    if not 0 < arg < 33:
        return np.inf
    log_gamma = abs(np.log(abs(value)))
    return abs(value) * max(9.4e-16, 5.4e-16 * max(1.0, log_gamma) + EPS * log_gamma)


def _zeta_error(value: float, arg: float) -> float:
    return 9.8e-16 * abs(value) if 1 < arg <= 50 else np.inf


def _special_error(node):
    """The documented absolute error of the scipy routine for ``node`` as a function of (value, argument), or None."""
    if isinstance(node, sp.polygamma) and node.args[0] == 0:
        return _psi_error
    if isinstance(node, sp.gamma):
        return _gamma_error
    if isinstance(node, sp.zeta) and len(node.args) == 1:
        return _zeta_error
    return None


def _local(node, i: int):
    """d node / d node.args[i] as a sympy expression of the node's arguments."""
    args = node.args
    if isinstance(node, sp.Add):
        return sp.Integer(1)
    if isinstance(node, sp.Mul):
        return sp.Mul(*[a for j, a in enumerate(args) if j != i])
    if isinstance(node, sp.Pow):
        base, exponent = args
        return exponent * base ** (exponent - 1) if i == 0 else node * sp.log(base)
    d = sp.Dummy("d")
    return sp.diff(node.func(*[d if j == i else a for j, a in enumerate(args)]), d).subs(d, args[i])


def _adjoints(expr, symbols):
    """Reverse-mode derivatives of ``expr`` over its expression tree (each occurrence of a subexpression on its own):
    ([df/ds for s in symbols], [(g, df/dg, size, kind) for every intermediate g]); size = the argument of a special
    function, sum |a_i| of a sum, |g| otherwise; kind = its rounding count, or the special function's error."""
    by_symbol = {s: [] for s in symbols}
    rows = []
    stack = [(expr, sp.Integer(1))]
    while stack:
        node, adjoint = stack.pop()
        if node.is_Symbol:
            if node not in by_symbol:
                raise ValueError(f"{node} is not an input of the link")
            by_symbol[node].append(adjoint)
            continue
        if node.is_Atom:
            continue
        special = _special_error(node)
        if special is not None:
            rows.append((node, adjoint, node.args[-1], special))
        elif isinstance(node, ELEMENTARY):
            count = len(node.args) - 1 if isinstance(node, (sp.Add, sp.Mul)) else 1
            size = sp.Add(*[sp.Abs(a) for a in node.args]) if isinstance(node, sp.Add) else sp.Abs(node)
            rows.append((node, adjoint, size, count))
        else:
            raise ValueError(f"no documented accuracy for {type(node).__name__}")
        for i, child in enumerate(node.args):
            if child.free_symbols or not child.is_Atom:
                stack.append((child, adjoint * _local(node, i)))
    return [sp.Add(*by_symbol[s]) for s in symbols], rows


def derived_tolerance(expr, symbols, points, extra=None) -> tuple[np.ndarray, np.ndarray]:
    """(exact values, absolute tolerances) of the scalar ``expr`` at each point of ``symbols`` (module docstring);
    ``extra`` (one count per point, default 0) adds c eps e |f| for the terms of a numpy loop or cumulative sum."""
    expr = sp.sympify(expr)
    grads, rows = _adjoints(expr, symbols)
    k, r = len(symbols), len(rows)
    entries = [expr] + [s * g for s, g in zip(symbols, grads)] + [row[1] for row in rows]
    entries += [row[0] for row in rows] + [row[2] for row in rows]
    exact, tol = [], []
    for values, e in zip(exact_values(sp.Matrix(entries), symbols, points),
                         extra if extra is not None else [0] * len(points)):
        v = np.asarray(values, dtype=float).ravel()
        f, grad_in, grad_nodes = v[0], v[1:1 + k], v[1 + k:1 + k + r]
        node_values, sizes = v[1 + k + r:1 + k + 2 * r], v[1 + k + 2 * r:]
        rounding = abs(f) * (1 + e) + np.sum(np.abs(grad_in))
        special = 0.0
        for (_g, _adj, _size, kind), d, value, size in zip(rows, grad_nodes, node_values, sizes):
            if callable(kind):
                special += kind(value, size) * abs(d)
            else:
                rounding += kind * abs(size) * abs(d)
        exact.append(f)
        tol.append(C_ROUNDING * EPS * rounding + special)
    return np.array(exact), np.array(tol)


def law_link(items) -> dict:
    """Link the numpy values to the proved values: ``items`` are (expr, symbols, points, package values[, extra]);
    passes iff every |numpy - exact| <= its tolerance (:func:`derived_tolerance`). Returns ``{"ok",
    "numpy_max_err_over_tol", "numpy_points", "numpy_link_max_rel_err"}`` (and ``numpy_link_error`` when a proved
    expression cannot be evaluated)."""
    exact, tol, package = [], [], []
    try:
        for expr, symbols, points, values, *extra in items:
            x, t = derived_tolerance(expr, symbols, points, extra[0] if extra else None)
            exact += list(x)
            tol += list(t)
            package += [float(np.asarray(v, dtype=float).reshape(())) for v in values]
    except LINK_ERRORS as exc:
        return {**FAILED, "numpy_link_error": f"{type(exc).__name__}: {exc}"[:120]}
    exact, tol, package = np.array(exact), np.array(tol), np.array(package)
    if exact.shape != package.shape or not exact.size:
        return dict(FAILED)
    if not (np.all(np.isfinite(exact)) and np.all(np.isfinite(tol)) and np.all(np.isfinite(package))):
        return {**FAILED, "numpy_points": int(exact.size)}
    err = np.abs(package - exact)
    ratio = np.where(err == 0, 0.0, err / np.where(tol > 0, tol, np.finfo(float).tiny))
    nonzero = exact != 0
    rel = float(np.max(err[nonzero] / np.abs(exact[nonzero]))) if nonzero.any() else 0.0
    return {"ok": bool(np.all(ratio <= 1.0)), "numpy_max_err_over_tol": float(np.max(ratio)),
            "numpy_points": int(exact.size), "numpy_link_max_rel_err": rel}
