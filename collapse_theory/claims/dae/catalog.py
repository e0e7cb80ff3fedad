"""The DAE family's claims (the paper's claims are in :mod:`collapse_theory.claims.paper`). Checks refer to these IDs;
figures and docs cite them.

Notation: S* the real second moment with eigenvalues lambda*_i (lambda*_max the largest), sigma2 > 0 the
DAE noise variance, alpha in [0, 1] the real fraction, W_k the DAE trained at round k,
f(mu) = mu^2/(mu + sigma2) (renoise rule) and h(mu) = mu^3/(mu + sigma2)^2 (clean rule),
g(mu) = mu/(mu + sigma2) the eigen-gain, x = lambda/sigma2 the scale-free eigenvalue.
"""

from __future__ import annotations

from ..paper import IMAGE_TIER_NA_DAE as _IMAGE_NA, LINEAR_DAE as _LINEAR
from ..registry import Claim, register_claim

_RECURSION = "round 0 trains on S*; round k trains on S~_k fixed by the regime; S_{k+1} = rule applied to S~_k"

register_claim(Claim(
    id="DAE-OPT",
    title="Optimal linear DAE (Wiener filter)",
    statement=("For x with PSD second moment S and sigma2 > 0, L(W) = E||x - W(x + sigma eps)||^2 = tr S - 2 tr(WS) "
               "+ tr(W(S + sigma2 I)W^T) is strictly convex with unique minimiser W* = S(S + sigma2 I)^{-1}, eigen-gains "
               "g_i = lambda_i/(lambda_i + sigma2) in [0, 1). For samples X (n x d), the least-squares DAE with m noise "
               "draws per sample tends to W*(S_hat), S_hat = X^T X / n, as m -> infinity."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, "S symmetric PSD; sigma2 > 0"),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-BOTTLENECK",
    title="Rank-r two-layer linear DAE keeps the top-r eigendirections",
    statement=("Over W = D E with D in R^{d x r}, E in R^{r x d}: L(W) = L(W*) + ||(W - W*)(S + sigma2 I)^{1/2}||_F^2, so "
               "the optimum is sum_{i<=r} g_i u_i u_i^T (top-r eigenvectors u_i of S, gains g_i), with loss "
               "tr S - sum_{i<=r} lambda_i^2/(lambda_i + sigma2); the product D E is unique when lambda_r > lambda_{r+1} "
               "(the factors only up to (D M, M^{-1} E), M invertible r x r)."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, "no weight tying; rank r <= d"),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-STEP",
    title="One-round maps of both generation rules",
    statement=("With W = W*(S~): renoise (x' = W(x + sigma eps)) gives S' = W(S~ + sigma2 I)W^T = S~^2(S~ + sigma2 I)^{-1}, "
               "per eigenvalue f(mu) = mu^2/(mu + sigma2) = mu - sigma2 + sigma2^2/(mu + sigma2) < mu for mu > 0; clean (x' = W x) "
               "gives S' = W S~ W^T, h(mu) = mu^3/(mu + sigma2)^2 < f(mu) for mu > 0 (equalities at mu = 0). Both keep S*'s eigenbasis, so the recursions act per eigenvalue."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-MATRIX-EIGEN",
    title="Full-matrix and eigenvalue recursions agree",
    statement=("For any PSD S* = U diag(lambda*) U^T, all four regimes and both rules, the full-matrix recursion has "
               "S_k = U diag(lambda_k) U^T where lambda_k follows the eigenvalue recursion; hence ||W_k||_op, "
               "||W_k...W_0||_op, tr S_k, the effective rank and W2(N(0,S_k), N(0,S*)) coincide."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-COLLAPSE-RATE",
    title="Geometric collapse with explicit rate",
    statement=("Replace regime, rho0 = lambda*_max/(lambda*_max + sigma2) = ||W_0||_op. Renoise: lambda_{k,max} <= lambda*_max "
               "rho0^k, ||W_k||_op <= (lambda*_max/sigma2) rho0^k, ||W_k...W_0||_op <= rho0^(k+1), and in fact "
               "||W_k...W_0||_op = max_{i: lambda*_i > 0} lambda_{k+1,i}/lambda*_i. Clean: the same with rho0^(2k) for the first "
               "two and ||W_k...W_0||_op = max_{i: lambda*_i > 0} sqrt(lambda_{k+1,i}/lambda*_i) <= rho0^(k+1)."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "replace regime"),
    formalises=("C-collapse",),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-DOUBLY-EXP",
    title="Eventual doubly-exponential collapse",
    statement=("Replace regime, x_k = lambda_k/sigma2. Renoise: once x_K <= 1, 2 (x_K/2)^(2^j) <= x_{K+j} <= x_K^(2^j) "
               "for all j >= 0 (x' = x^2/(1+x) in [x^2/2, x^2] on [0, 1]). Clean: 2 (x_K/2)^(3^j) <= x_{K+j} <= x_K^(3^j) "
               "(x' = x^3/(1+x)^2 in [x^3/4, x^3])."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "replace regime"),
    formalises=("C-collapse",),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-ROUNDS",
    title="Rounds to collapse grow like lambda/sigma2 ('slow when sigma is small')",
    statement=("Replace regime. The number N of rounds until the gain of an eigendirection falls to 1/2 depends only on "
               "x0 = lambda*/sigma2 (f is homogeneous of degree 1 in (lambda, sigma2)). Renoise, x0 > 1: "
               "x0 + ln x0 - 8/3 <= N(x0) <= x0 + ln x0 + ln 2 - 1/2. Clean, x0 > 1: (x0 - 1)/2 <= N(x0) <= 4(x0 - 1)/3 + 1. "
               "Small sigma2 means many rounds: each round removes at most sigma2 (renoise) or 2 sigma2 (clean); a smaller "
               "sigma2 slows collapse, it does not cause it (read C-collapse's 'small noise variance' with this in mind)."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "replace regime"),
    formalises=("C-collapse",),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-REAL-FIXED-POINT",
    title="Fixed real fraction: lower bound, unique fixed point, monotone geometric convergence (formalises C-real)",
    statement=("Mix regime, alpha in (0, 1], renoise: round k trains on S~_k = alpha S* + (1 - alpha) S_k and the next "
               "data set is the whole training set passed through W_k, S_{k+1} = F(S~_k) (not only its synthetic part; "
               "generating round k+1 from the synthetic part alone is another recursion with another fixed point). "
               "(i) ||W_k||_op >= alpha lambda*_max/(alpha lambda*_max + sigma2) for all k. "
               "(ii) Each eigenvalue has a unique fixed point of lambda = f(alpha lambda* + (1 - alpha) lambda): mu_inf = "
               "[(alpha lambda* - sigma2) + sqrt((sigma2 - alpha lambda*)^2 + 4 alpha^2 lambda* sigma2)]/(2 alpha), "
               "lambda_inf = f(mu_inf). (iii) From lambda_0 = lambda*, lambda_k decreases monotonically to lambda_inf with "
               "|lambda_k - lambda_inf| <= (1 - alpha)^k |lambda* - lambda_inf| (strictly decreasing when lambda* > 0), asymptotic rate (1 - alpha) f'(mu_inf), "
               "f'(mu) = mu(mu + 2 sigma2)/(mu + sigma2)^2 in [0, 1). Check value: lambda* = (4, 2, 1, 0.5, 0.1), sigma2 = 0.1, "
               "alpha = 0.1 gives lambda_inf ~ (3.031, 1.079, 0.240, 0.039, 0.0011)."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "mix (or fresh) regime"),
    formalises=("C-real",),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-MIX-SYNTHETIC-ONLY",
    title="The other reading of a real fraction: next round from the synthetic part only, a lower fixed point",
    statement=("Renoise, alpha in (0, 1): round k trains on S~_k = alpha S* + (1 - alpha) S_k as in the mix regime, but the "
               "next data set is generated from the synthetic part only, lambda' = g(mu)^2 (lambda + sigma2) with mu = "
               "alpha lambda* + (1 - alpha) lambda. Each eigenvalue has one fixed point: mu_inf is the positive root of "
               "(1 + alpha) mu^2 + (sigma2 - 2 alpha lambda*) mu - alpha lambda* sigma2 (>= alpha lambda*) and lambda_inf = "
               "(mu_inf - alpha lambda*)/(1 - alpha) >= 0. Check value: lambda* = (4, 2, 1, 0.5, 0.1), sigma2 = alpha = "
               "0.1 gives lambda_inf ~ (0.321, 0.142, 0.0568, 0.0194, 0.00097), below the mix regime's (3.031, 1.079, "
               "0.240, 0.039, 0.0011; DAE-REAL-FIXED-POINT) by 9.4x for the top eigenvalue down to 1.1x for the smallest. Pick the regime that matches the pipeline: mix re-processes the whole training set."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "fixed real fraction alpha in (0, 1); only the synthetic part is passed through W_k"),
    formalises=("C-real",),
    no_check={"trained": "closed form and recursion only; the trained tier checks the mix regime (DAE-REAL-FIXED-POINT)",
              "image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-CLEAN-RULE",
    title="Clean generation rule: the same picture, faster",
    statement=("Clean rule (x' = W x). Replace: collapse bounds with rho0^(2k) (DAE-COLLAPSE-RATE). Mix, alpha in (0, 1]: "
               "mu_inf is the unique positive root of alpha mu^3 + (2 sigma2 - alpha lambda*) mu^2 + (sigma2^2 - 2 alpha lambda* sigma2) mu "
               "- alpha lambda* sigma2^2 (one sign change: Descartes), it lies in [alpha lambda*, lambda*], lambda_k decreases "
               "monotonically to h(mu_inf) at rate <= 1 - alpha, asymptotically (1 - alpha) h'(mu_inf), "
               "h'(mu) = mu^2 (mu + 3 sigma2)/(mu + sigma2)^3 in [0, 1); the lower bound (i) of DAE-REAL-FIXED-POINT holds."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "clean generation rule"),
    formalises=("C-collapse", "C-real"),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-ACCUMULATE",
    title="Accumulating all generated data: harmonic (1/k), not geometric, collapse",
    statement=("Accumulate regime, either rule (F = f or h). With A_k = (k+1) mu_k = lambda* + lambda_1 + ... + lambda_k: "
               "mu_{k+1} - mu_k = -(mu_k - F(mu_k))/(k+2) < 0, A_k is non-decreasing and bounded, so mu_k >= lambda*/(k+1), "
               "||W_k||_op >= lambda*_max/(lambda*_max + (k+1) sigma2), and mu_k -> 0 with (k+1) mu_k -> A_inf in [lambda*, inf). "
               "(The limits are analytic steps: mu_k -> 0 because sum 1/(k+2) diverges, and A_k is bounded because "
               "lambda_{k+1} <= mu_k^2/sigma2 is then summable.) So ||W_k||_op -> 0 like A_inf/(sigma2 k): accumulation slows collapse from geometric to harmonic but, with "
               "equal weight per round, does not stop it (the real data's weight 1/(k+1) vanishes). The 1/k law starts late: "
               "the gain first falls to 1/2 at round 32, 410, 13,320 and 123,266 for lambda*/sigma2 = 3, 5, 8, 10 (renoise), "
               "and A_k is of order e^{lambda*/sigma2} (53, 608, 1.6e4, 1.5e5 at rounds 10^2, 10^3, 2 10^4, 2 10^5)."),
    provenance="toolkit-theorem",
    assumptions=(_LINEAR, _RECURSION, "accumulate regime, equal weight per round"),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-FINITE-SAMPLE",
    title="One finite-sample round is unbiased given the training set",
    statement=("With n samples per round (any data distribution with second moment S*), one round is unbiased given the "
               "previous training set: E[S_hat_{k+1} | training set] = F(S_hat~_k) exactly (F = the rule's map) when "
               "W_k = W*(S_hat~_k) is fitted with the noise expectation exact (with finitely many noise draws W_k is random "
               "and the identity is not exact), and in the accumulate regime the n inputs are drawn uniformly from the pool. "
               "Over several rounds this is not a theorem: F is curved, so the finite-sample mean is biased by O(1/n) "
               "(DAE-FINITE-SAMPLE-TRACKING, an observation)."),
    provenance="toolkit-theorem",
    assumptions=(_RECURSION, "n i.i.d. samples per round; all four regimes"),
    no_check={"image": _IMAGE_NA,
              "trained": "the one-round identity is exact algebra (symbolic) and checked by Monte-Carlo (numeric); the "
                         "trained DAEs' multi-round tracking is DAE-FINITE-SAMPLE-TRACKING/trained"},
))

register_claim(Claim(
    id="DAE-FINITE-SAMPLE-TRACKING",
    title="Over several rounds the finite-sample recursion tracks the population map (observation)",
    statement=("Over several rounds the Monte-Carlo mean of tr S_k and of the moments along S*'s eigenvectors agrees with "
               "the population recursion within replicate z-scores |z| <= z_limit(m, R) for Gaussian, Gaussian-mixture "
               "and heavy-tailed (Student-t, 5 dof) data at n large enough for the O(1/n) bias to fall below the replicate "
               "error; the bias constant grows as a direction collapses (|bias|/sd <= 4/sqrt(n) measured for "
               "lambda* = (4, 1, 0.25), <= 6 rounds, population moments >= 0.033), and in deep collapse "
               "(lambda_{k,i} << lambda*_i/n) the mean moment along S*'s eigenvector does not track the population "
               "(see DAE-LOG-DRIFT). Recursively trained linear DAEs track it likewise (n = 8192, R = 32, 24 rounds)."),
    provenance="observation",
    assumptions=(_RECURSION, "n i.i.d. samples per round; replicates independent; all four regimes"),
    no_check={"image": _IMAGE_NA,
              "symbolic": "an observation about the size of the O(1/n) multi-round bias; the exact one-round identity "
                          "is DAE-FINITE-SAMPLE/symbolic"},
))

register_claim(Claim(
    id="DAE-LOG-DRIFT",
    title="Sampling noise drifts log-moments down until a direction collapses, then up",
    statement=("Finite-sample replace regime. While an eigendirection of S* has not collapsed (population moment "
               "lambda_{k,i} >~ sigma2), the replicate mean of log lambda_hat_{k,i} (the moment along that eigenvector) falls "
               "below log lambda_{k,i} of the population recursion (log is concave): the drift is O(1/n) (about -1/n at round 0 "
               "for Gaussian data), grows with k and shrinks with n. Once a direction has collapsed (lambda_{k,i} << lambda*_i) "
               "the sign reverses: the moment along S*'s eigenvector is floored at O(lambda_max/n) by the random tilt of the "
               "surviving eigen-subspace of S_hat_k, so its mean log lies far above the population's and the moment is biased "
               "upward, while the eigenvalues of S_hat_k still drift downward. Drifts are reported with replicate z-scores."),
    provenance="observation",
    assumptions=(_RECURSION, "Gaussian data, n samples per round"),
    no_check={"image": _IMAGE_NA},
))

register_claim(Claim(
    id="DAE-MLP-COLLAPSE",
    title="Nonlinear MLP DAEs collapse under replace and plateau with half real data (trained observation)",
    statement=("Nonlinear MLP DAEs (SiLU, two hidden layers of 64 units, skip connection; Adam with fresh noise each step, "
               "150 steps per round, warm start), trained recursively on their own renoised outputs (sigma2 = 0.1, n = 1024, "
               "20 rounds, 8 replicates) on non-Gaussian data (a 2-D four-mode Gaussian mixture; digits PCA scores, d = 8): "
               "under replace the total variance falls at every round and keeps falling in rounds 10-20 (measured: to 2.2 % "
               "(mixture) and 4.7 % (digits) of round 0's by round 20) and the effective rank falls (digits 7.1 -> 2.5; the "
               "2-D mixture reaches about 1.03, a line, at round 12 and then stays near 1.1); with a fixed real fraction "
               "alpha = 0.5 both plateau within a few rounds (total variance 81 % and 83 % of round 0's, no significant "
               "decrease over rounds 10-20); with alpha = 0.1 the total variance still decreases at round 20 (by 3.4 % "
               "(mixture) and 0.5 % (digits) per round, at 32 % and 48 % of round 0's). "
               "The numbers are measured by the trained checks and reported in their evidence."),
    provenance="observation",
    assumptions=("MLP DAE x -> f(x + sigma eps) trained by Adam on the DAE loss; renoise generation x' = f(x + sigma eps)",
                 _RECURSION),
    no_check={"symbolic": "an empirical observation about trained nonlinear networks: there is no formula to prove",
              "numeric": "no closed form for nonlinear DAEs; measured in the trained tier",
              "image": "the image tier is about rectified-flow models; this observation is about small MLP DAEs"},
))
