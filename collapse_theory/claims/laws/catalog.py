"""The collapse laws: exactly solvable self-consuming loops beyond the paper's DAE and flow (the third family).

Each is a ``toolkit-theorem``: stated and proved here (symbolic tier: :mod:`collapse_theory.proofs.laws`,
:mod:`collapse_theory.proofs.laws_mean`) and tested against Monte-Carlo of the literal procedure and independent
oracles (numeric tier). "compare:" names the literature a reader can set the statement beside; the papers' theorem
texts are not available here, so nothing is claimed about what they prove. Closed forms: collapse_theory/theory/laws/.

Statements and derivations: docs/derivations/laws.md (§1-§8 in the order of this catalog).
"""

from __future__ import annotations

from ..registry import Claim, register_claim

_NA = {"trained": "an exact finite-sample law of a closed-form estimator: nothing is trained",
       "image": "an exact finite-sample law of a closed-form estimator: no image model is involved"}

register_claim(Claim(
    id="LAW-GAUSSIAN-REFIT",
    title="Recursive Gaussian refitting: the mean of the variance stays, the variance collapses",
    statement=("Round 0 is N(mu, sigma2); round n + 1 fits mean and variance to M >= 2 samples of round n with the "
               "divisor D = M - 1 (unbiased) or M (mle). With k = M - 1 and c = sqrt(2/D) Gamma((k+1)/2)/Gamma(k/2): "
               "E sigma2_n = sigma2 (k/D)^n (a martingale when unbiased; sigma2 (1 - 1/M)^n mle); "
               "E log sigma2_n = log sigma2 + n [psi(k/2) + log(2/D)] (negative drift, so sigma_n -> 0 almost surely); "
               "E sigma_n = sigma c^n with c < 1; E (mu_n - mu)^2 = (sigma2/M) sum_{j<n} (k/D)^j (n sigma2/M unbiased, "
               "sigma2 (1 - (1 - 1/M)^n) mle); E W2^2(N(mu_n, sigma2_n), N(mu, sigma2)) = sigma2 [n/M + 2 - 2 c^n] "
               "(unbiased; sigma2 [2 - 2 c^n] mle). In d dimensions (M >= d + 1): E tr Sigma_n = tr Sigma (k/D)^n, "
               "E log det Sigma_n = log det Sigma + n sum_{i<=d} [psi((k - i + 1)/2) + log(2/D)], E det Sigma_n = det Sigma "
               "(prod_{i<=d} (k - i + 1)/D)^n, E ||mu_n - mu||^2 = (tr Sigma/M) sum_{j<n} (k/D)^j. "
               "Compare: Shumailov et al., arXiv 2305.17493."),
    provenance="toolkit-theorem",
    assumptions=("i.i.d. Gaussian samples each round from the previous fit", "sample mean and scatter independent "
                 "(Cochran)", "W2 of 1-D Gaussians = sqrt((mu1 - mu2)^2 + (sigma1 - sigma2)^2)"),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-WRIGHT-FISHER",
    title="Categorical resampling (Wright-Fisher): fixation, loss probability and the real-data bound",
    statement=("p_{m+1} = a c/n + (1 - a) p0 with c ~ Mult(n, p_m), p_0 = p0 the real distribution, real weight "
               "w = 1 - a in [0, 1]. Pure resampling (w = 0): E ||p_m||^2 = 1 - (1 - 1/n)^m (1 - ||p0||^2), and a "
               "symbol of count k out of n is eventually lost with probability 1 - k/n. With w > 0: E ||p_m - p0||^2 = "
               "D_inf (1 - rho^m), rho = a^2 (1 - 1/n), D_inf = a^2 (1 - ||p0||^2)/(n - a^2 (n - 1)): bounded, and "
               "E ||p_m||^2 = ||p0||^2 + E ||p_m - p0||^2. Compare: Seddik et al., arXiv 2404.05090; Suresh et al. 2025."),
    provenance="toolkit-theorem",
    assumptions=("n symbols drawn i.i.d. from the current distribution each round",),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-REGRESSION-CHAIN",
    title="Regression chains: replace grows linearly, accumulate stays below pi^2/6 of the real-data error",
    statement=("A design X (T x d, rows i.i.d. N(0, Sigma), T > d + 1) is drawn once; w_0 = w*; round n >= 1 refits "
               "least squares on labels y_n = X w_{n-1} + eps_n, eps_n ~ N(0, sigma2 I). Test error = E (x^T (w_n - w*))^2, "
               "x ~ N(0, Sigma) (excess risk). Replace (only round n's data): E test error = n sigma2 d/(T - d - 1). "
               "Accumulate (all rounds' data): E test error = sigma2 d/(T - d - 1) sum_{i<=n} 1/i^2 <= (pi^2/6) x the "
               "round-1 (real-data) error. Given X both are sigma2 tr(Sigma (X^T X)^{-1}) times n resp. sum 1/i^2. "
               "Compare: Dohmatob-Feng-Kempe, arXiv 2402.07712; Gerstgrasser et al., arXiv 2404.01413; Dey-Donoho, "
               "arXiv 2410.22812."),
    provenance="toolkit-theorem",
    assumptions=("Gaussian label noise independent across rounds", "the same design every round"),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-FIXED-REAL-RATIO",
    title="Fixed real data at synthetic-to-real ratio lambda: a stationary variance, a contraction for every lambda",
    statement=("Gaussian mean with known sigma2: n real samples drawn once (round 0 fits their mean xbar); round t + 1 "
               "fits the mean of the n real samples and lambda n samples from N(mu_t, sigma2). Then "
               "E (mu_t - xbar)^2 = lambda sigma2/(n (1 + 2 lambda)) (1 - (lambda/(1 + lambda))^(2t)) -> the stationary "
               "variance lambda sigma2/(n (1 + 2 lambda)), and E (mu_t - mu*)^2 = sigma2/n + E (mu_t - xbar)^2 "
               "(bounded for every lambda >= 0). The population map mu -> (mu* + lambda mu)/(1 + lambda) has Jacobian "
               "lambda/(1 + lambda) < 1 for every finite lambda (in this realizable case a contraction without the "
               "sufficient condition lambda < 1). Compare: Bertrand et al., arXiv 2310.00429."),
    provenance="toolkit-theorem",
    assumptions=("known variance; lambda n an integer (the synthetic sample size)",),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-FRESH-DATA",
    title="Fresh real data each round: a finite error floor; biased sampling shrinks the variance to (1 - w)/(1 - wb)",
    statement=("Round t + 1 fits mean and variance to n_r fresh real samples of N(mu*, sigma2) and n_s samples of "
               "N(mu_t, b v_t) (sampling bias b > 0), variances about the known centres; w = n_s/(n_r + n_s), w b < 1. "
               "Exactly: E v_{t+1} = (1 - w) sigma2 + w b E v_t, so E v_t -> (1 - w) sigma2/(1 - w b) (the covariance "
               "fixed point (1 - w) Sigma/(1 - w b) in one dimension); E (mu_{t+1} - mu*)^2 = w^2 E (mu_t - mu*)^2 + "
               "(n_r sigma2 + n_s b E v_t)/N^2, whose limit at b = 1 is Var_inf = sigma2 (n_r + n_s)/(n_r (n_r + 2 n_s)). "
               "Compare: Alemohammad et al., arXiv 2307.01850."),
    provenance="toolkit-theorem",
    assumptions=("Gaussian samples; the variance is fitted about the known centres (mu* for real, mu_t for synthetic)",),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-OPTIMAL-WEIGHT",
    title="The optimal real-data weight is (sqrt(r(r + 4)) - r)/2: 1/phi when real and synthetic counts are equal",
    statement=("With n_r fresh real and n_s synthetic samples (from N(mu_t, sigma2)) per round and the weighted fit "
               "mu_{t+1} = w xbar + (1 - w) ybar, E (mu_t - mu*)^2 = V_inf + (1 - w)^(2t) (sigma2/n_r - V_inf) with "
               "V_inf(w) = sigma2 (w^2/n_r + (1 - w)^2/n_s)/(1 - (1 - w)^2), uniquely minimised over (0, 1] at "
               "w* = (sqrt(r (r + 4)) - r)/2, r = n_r/n_s; w* = 1/phi = 0.618... when n_r = n_s (the count-proportional "
               "weight 1/2 of LAW-FRESH-DATA is worse). Compare: He-Xu-Cheng, arXiv 2502.18049."),
    provenance="toolkit-theorem",
    assumptions=("known variance; fresh real samples each round",),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-DIFFUSION-EARLY-STOP",
    title="Diffusion with early stopping and fresh data: Hermite mode m keeps the gain a e^{-m d}/(1 - (1 - a) e^{-m d})",
    statement=("Ornstein-Uhlenbeck forward process dX = -X dt + sqrt(2) dW; an exact-score model stopped at time "
               "delta > 0 samples q = P_delta p (its training law p moved by the OU semigroup); p_0 = p* (real), "
               "p_{k+1} = alpha p* + (1 - alpha) q_k. The Hermite moments h_m = E He_m are OU eigenfunctions "
               "(E He_m(e^{-d} x + sqrt(1 - e^{-2d}) Z) = e^{-m d} He_m(x)), so h_m(q_k) = rho_m h_m* [g_m + (1 - g_m) "
               "((1 - alpha) rho_m)^k], rho_m = e^{-m delta}, g_m = alpha/(1 - (1 - alpha) rho_m): each mode converges "
               "at the exact rate (1 - alpha) e^{-m delta} (below 1 - alpha, which is only the delta -> 0 bound) to the "
               "output gain alpha e^{-m delta}/(1 - (1 - alpha) e^{-m delta}); with alpha = 0 every mode decays as "
               "e^{-m delta (k + 1)} (collapse onto N(0, 1), high modes first). The finite-sample loop (alpha n fresh "
               "real samples, the rest generated from the previous training set's exact-score model) has these "
               "expectations exactly. Compare: self-consuming diffusion loops with fresh data (e.g. Alemohammad et al., "
               "arXiv 2307.01850)."),
    provenance="toolkit-theorem",
    assumptions=("exact score of the training law; the reverse process stopped at delta samples the forward marginal",
                 "real law with finite Hermite moments (here a Gaussian mixture)"),
    no_check=dict(_NA),
))

register_claim(Claim(
    id="LAW-ZIPF-TAIL",
    title="Zipf tails cut at rank k: error T^{-(1 - 1/beta)} until a k^{-(beta - 1)} plateau",
    statement=("Real tokens with p_i = i^{-beta}/zeta(beta), beta > 1; synthetic data from the law cut at rank k "
               "(q_i = p_i/P_k, i <= k). A memorising learner on T samples of q has test error exactly "
               "E(T, k) = sum_{i<=k} p_i (1 - q_i)^T + zeta(beta, k + 1)/zeta(beta). Uncut, E ~ C T^{-(1 - 1/beta)} with "
               "C = Gamma(1 - 1/beta) zeta(beta)^{-1/beta}/beta; as T -> oo, E -> tail(k) ~ k^{-(beta - 1)}/((beta - 1) "
               "zeta(beta)); so E ≍ T^{-(1 - 1/beta)} + k^{-(beta - 1)} (a plateau once T ~ k^beta). "
               "Compare: Dohmatob et al., A Tale of Tails, ICML 2024."),
    provenance="toolkit-theorem",
    assumptions=("memorisation learner (a token is known iff seen in training)", "i.i.d. training samples"),
    no_check=dict(_NA),
))
