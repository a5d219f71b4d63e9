"""The election fingerprint and fraud model of Klimek, Yegorov, Hanel & Thurner (2012), "Statistical detection of
systematic election irregularities", PNAS 109(41):16469–16473 (notes §1.1).

Fingerprint: the 2-D histogram of units by turnout t and winner share v, in 1-point bins. A fair election gives one
roughly Gaussian blob; ballot stuffing smears it toward the upper right and extreme fraud piles units at (100 %, 100 %).

Model (exact form from Kobak's re-implementation, dkobak/elections: meduza2018/meduza.ipynb ``simulateklimek``, and
EFToolkit's port of Klimek's ``ElectionFitter.m``):

* fair part: t ~ TruncNormal_[0,1](τ, σ_τ), v ~ TruncNormal_[0,1](ν, σ_ν);
* with probability f_i, incremental fraud x ~ |N(0, θ)| truncated to (0, 1); with probability f_e, extreme fraud
  x = 1 − |N(0, 0.075)| (truncated to (0, 1)); otherwise x = 0;
* winner's votes per voter W/N = t v + x (1 − t) + x^α t (1 − v) (a fraction x of non-voters stuffed for the
  winner, a fraction x^α of the opponents' votes moved to the winner); reported turnout T/N = 1 − (1 − x)(1 − t);
  reported share V = (W/N) / (T/N).

Fit, as Klimek et al. do it: τ and ν are the first local maxima above 0.3 of the turnout and share densities,
σ_τ = rms(t − τ | t < τ, v < ν), σ_ν = rms(v − ν | v < ν), θ = (mean((v − ν)² | v > ν))^{1/4} (Klimek's "double
square root"); then (f_i, f_e, α) minimise the squared difference between the simulated and the observed
fingerprints. The model is a mixture of three classes, so the expected fingerprint is linear in (f_i, f_e): the fair
class's fingerprint is computed exactly, the two fraud classes' are simulated once per α (``simulations`` draws,
common random numbers), and for each α the distance is minimised exactly by bounded linear least squares, rather
than on the coarse grid (f_i ∈ {0, .2, …}) of the Toolkit. Two departures, both found necessary on data simulated
from the model itself (tests/forensics/test_fingerprint.py):

* the heuristic fair part is polished by a few Gauss–Newton steps on the same distance, jointly with (f_i, f_e):
  Klimek's mode and half-width estimates wander by about a third of a bin, and f_i otherwise soaks up the misfit
  (clean data "show" f_i ≈ 0.04, and up to 0.2 in the null bootstrap);
* the distance is the plain sum of squares; Klimek's code weights each cell by 1/(obs + 1)², which penalises
  predicting units in empty cells and pulls f_i down (0.3 fitted as 0.08). ``distance="klimek"`` keeps it.

What remains of Klimek's estimator: θ is read off the upper side of the share distribution, which fraud itself
widens, so f_i is underestimated as it grows (simulated 0.15 → 0.125, 0.3 → 0.22); f_e is recovered to a few
thousandths.

Uncertainty: parametric bootstrap (:func:`fit_klimek`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import lsq_linear
from scipy.special import ndtr, ndtri

from ..errors import ConfigError
from ._types import Finding

__all__ = ["fingerprint_histogram", "FairPart", "estimate_fair_part", "simulate_klimek", "KlimekFit",
           "fit_klimek", "klimek_findings", "ALPHAS"]

#: Values of α tried. Klimek et al.'s fits for Russia range from 1.5 to 2.5 (notes §1.1 table).
ALPHAS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
_EXTREME_SD = 0.075
_BINS = 100

CAVEAT = (
    "The fitted fraud fractions are what Klimek et al.'s model needs to turn one Gaussian blob into the observed "
    "fingerprint, a question for auditors, never a verdict of fraud: the fair part is one blob for the whole contest, "
    "so heterogeneous regions, legitimate turnout–share correlation and small units all read as 'fraud' (Kobak: "
    "Crimea alone makes Russia 2018 bimodal); estimates depend on the estimator (Klimek 0.64 vs Mebane–Kalinin 0.12 "
    "for Russia 2011); the p-value only asks whether a single blob of this shape could give such an f."
)


def fingerprint_histogram(turnout: np.ndarray, share: np.ndarray, bins: int = _BINS) -> np.ndarray:
    """Units per cell of the (turnout, share) plane, ``bins`` × ``bins`` cells over [0, 1]² (first index turnout)."""
    t = np.asarray(turnout, dtype=np.float64)
    if bins == _BINS:
        return (_density(t, np.asarray(share, dtype=np.float64)) * t.size).reshape(_BINS, _BINS)
    hist, _, _ = np.histogram2d(np.clip(t, 0, 1), np.clip(share, 0, 1), bins=bins, range=[[0, 1], [0, 1]])
    return hist


@dataclass(frozen=True)
class FairPart:
    """The fair blob and the incremental-fraud scale, estimated as Klimek et al. do (module docstring)."""

    tau: float
    sigma_tau: float
    nu: float
    sigma_nu: float
    theta: float


def _first_mode_above(x: np.ndarray, floor: float = 0.3, grid_step: float = 0.001) -> float:
    """First local maximum above ``floor`` of a Gaussian kernel density (Scott's bandwidth, as SciPy's
    ``gaussian_kde``), evaluated on a binned grid: the kernel is applied to a 0.001-wide histogram. Unlike Kobak's
    re-implementation, a maximum below a tenth of the highest density is passed over."""
    cells = int(round(1.0 / grid_step))
    hist = np.bincount(np.minimum((np.clip(x, 0, 1) * cells).astype(np.int64), cells - 1),
                       minlength=cells).astype(np.float64)
    edges = np.arange(cells + 1) * grid_step
    bandwidth = max(float(np.std(x, ddof=1)) * x.size ** (-0.2), grid_step)
    half = int(np.ceil(5 * bandwidth / grid_step))
    offsets = np.arange(-half, half + 1) * grid_step
    density = np.convolve(hist, np.exp(-0.5 * (offsets / bandwidth) ** 2), mode="same")
    centres = edges[:-1] + grid_step / 2
    # A lone unit above the floor makes a bump of its own; a mode must reach a tenth of the highest density.
    falling = np.flatnonzero((centres[:-1] > floor) & (np.diff(density) < 0)
                             & (density[:-1] >= 0.1 * density.max()))
    return float(centres[falling[0]]) if falling.size else float(centres[np.argmax(density)])


def estimate_fair_part(turnout: np.ndarray, share: np.ndarray) -> FairPart:
    """τ, ν from the first density modes above 0.3; σ_τ, σ_ν from the lower sides; θ by Klimek's double root."""
    t = np.asarray(turnout, dtype=np.float64)
    v = np.asarray(share, dtype=np.float64)
    tau, nu = _first_mode_above(t), _first_mode_above(v)
    dt, dv = t - tau, v - nu
    lower = (dt < 0) & (dv < 0)
    sigma_tau = float(np.sqrt(np.mean(dt[lower] ** 2))) if lower.any() else float(np.std(t))
    sigma_nu = float(np.sqrt(np.mean(dv[dv < 0] ** 2))) if (dv < 0).any() else float(np.std(v))
    theta = float(np.mean(dv[dv > 0] ** 2) ** 0.25) if (dv > 0).any() else float(np.sqrt(sigma_nu))
    return FairPart(tau, max(sigma_tau, 1e-3), nu, max(sigma_nu, 1e-3), max(theta, 1e-3))


def _truncnorm_from(u: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """N(mean, sd) truncated to [0, 1] from uniforms ``u`` by inversion: Φ⁻¹ of a point between Φ(a) and Φ(b)
    (vectorised, an order of magnitude faster than ``scipy.stats.truncnorm.rvs``, and reusable draws)."""
    lo, hi = ndtr((0.0 - mean) / sd), ndtr((1.0 - mean) / sd)
    return np.clip(mean + sd * ndtri(lo + (hi - lo) * u), 0.0, 1.0)


def _truncnorm(rng: np.random.Generator, mean: float, sd: float, size: int) -> np.ndarray:
    return _truncnorm_from(rng.random(size), mean, sd)


def _report(t: np.ndarray, v: np.ndarray, x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Reported (turnout, share) of units with fair turnout t, fair share v and fraud intensity x."""
    winner = t * v + x * (1 - t) + x**alpha * t * (1 - v)
    reported = 1 - (1 - x) * (1 - t)
    return reported, winner / reported


def simulate_klimek(fair: FairPart, f_i: float, f_e: float, alpha: float, size: int,
                    rng: np.random.Generator, theta: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``size`` units from Klimek's model: (reported turnout, reported share, class 0 fair / 1 incremental /
    2 extreme). ``theta`` defaults to ``fair.theta``."""
    if f_i < 0 or f_e < 0 or f_i + f_e > 1 + 1e-12:
        raise ConfigError(f"fraud fractions must be ≥ 0 with f_i + f_e ≤ 1, not f_i={f_i}, f_e={f_e}")
    t = _truncnorm(rng, fair.tau, fair.sigma_tau, size)
    v = _truncnorm(rng, fair.nu, fair.sigma_nu, size)
    u = rng.random(size)
    kind = np.where(u < f_i, 1, np.where(u < f_i + f_e, 2, 0))
    x = np.zeros(size)
    inc, ext = kind == 1, kind == 2
    x[inc] = _truncnorm(rng, 0.0, fair.theta if theta is None else theta, int(inc.sum()))
    x[ext] = 1.0 - _truncnorm(rng, 0.0, _EXTREME_SD, int(ext.sum()))
    return (*_report(t, v, x, alpha), kind)


def _cells(turnout: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Flat fingerprint cell of each unit (turnout-major), the same cells as :func:`fingerprint_histogram`."""
    i = np.minimum((np.clip(turnout, 0, 1) * _BINS).astype(np.int64), _BINS - 1)
    j = np.minimum((np.clip(share, 0, 1) * _BINS).astype(np.int64), _BINS - 1)
    return i * _BINS + j


def _density(turnout: np.ndarray, share: np.ndarray) -> np.ndarray:
    return np.bincount(_cells(turnout, share), minlength=_BINS * _BINS) / turnout.size


@dataclass(frozen=True)
class KlimekFit:
    """The fitted model and its parametric-bootstrap uncertainty."""

    fair: FairPart
    f_i: float
    f_e: float
    alpha: float
    distance: float  # the minimised distance (squares or Klimek's weighted squares)
    f_i_interval: tuple[float, float]
    f_e_interval: tuple[float, float]
    f_i_p_value: float  # P(f̂_i ≥ observed | fair model), parametric bootstrap
    f_e_p_value: float
    units: int
    observed: np.ndarray  # (bins, bins) fingerprint
    fitted: np.ndarray  # (bins, bins) expected fingerprint of the fitted model
    extreme_posterior: np.ndarray  # (bins, bins) P(extreme class | cell) under the fit
    bootstrap: int
    null_bootstrap: int
    null_f: np.ndarray  # (null_bootstrap, 2) f̂ of the clean data sets


def _solve(obs: np.ndarray, components: np.ndarray, n: int, distance: str) -> tuple[float, float, float]:
    """Minimise the distance between ``obs`` and n·M(f), M = H0 + f_i (H1 − H0) + f_e (H2 − H0), over f_i, f_e ≥ 0,
    f_i + f_e ≤ 1: Σ (n M − obs)² (``"squares"``) or Klimek's Σ ((n M − obs)/(obs + 1))² (``"klimek"``). Both are
    linear least squares in f, solved exactly (on the cells that either side puts a unit in)."""
    used = (obs > 0) | (components.max(axis=0) > 0)
    obs, components = obs[used], components[:, used]
    weight = 1.0 / (obs + 1.0) if distance == "klimek" else np.ones_like(obs)
    base = n * components[0]
    design = (n * (components[1:] - components[0])).T * weight[:, None]
    target = (obs - base) * weight
    f = _bounded_lstsq(design, target, 0.0, 1.0)
    if f.sum() > 1:  # the simplex edge: f_e = 1 − f_i, one free parameter left
        column = design[:, 0] - design[:, 1]
        rest = target - design[:, 1]
        f_i = float(np.clip(column @ rest / (column @ column), 0.0, 1.0))
        f = np.array([f_i, 1.0 - f_i])
    residual = design @ f - target
    return float(f[0]), float(f[1]), float(residual @ residual)


def _fair_cells(fair: FairPart) -> np.ndarray:
    """Exact cell probabilities of the fair class: the product of the two truncated normals' bin masses."""
    edges = np.linspace(0.0, 1.0, _BINS + 1)

    def masses(mean: float, sd: float) -> np.ndarray:
        cdf = ndtr((edges - mean) / sd)
        return np.diff(cdf) / (cdf[-1] - cdf[0])

    return np.outer(masses(fair.tau, fair.sigma_tau), masses(fair.nu, fair.sigma_nu)).ravel()


class _Simulator:
    """Class fingerprints: the fair one exact, the two fraud ones from one fixed set of uniforms (common random
    numbers), so that α and the fair part are compared without fresh simulation noise between them. The transformed
    draws are cached per fair part and θ (the inverse normal is the costly step)."""

    def __init__(self, simulations: int, rng: np.random.Generator) -> None:
        self.u = rng.random((4, simulations))
        self._fair: dict[tuple[float, ...], tuple[np.ndarray, np.ndarray]] = {}
        self._theta: dict[float, np.ndarray] = {}
        self._extreme = 1.0 - _truncnorm_from(self.u[3], 0.0, _EXTREME_SD)

    def components(self, fair: FairPart, alpha: float, theta: float) -> np.ndarray:
        key = (fair.tau, fair.sigma_tau, fair.nu, fair.sigma_nu)
        if key not in self._fair:
            self._fair = {key: (_truncnorm_from(self.u[0], fair.tau, fair.sigma_tau),
                                _truncnorm_from(self.u[1], fair.nu, fair.sigma_nu))}
        if theta not in self._theta:
            self._theta = {theta: _truncnorm_from(self.u[2], 0.0, theta)}
        t, v = self._fair[key]
        return np.array([_fair_cells(fair), _density(*_report(t, v, self._theta[theta], alpha)),
                         _density(*_report(t, v, self._extreme, alpha))])


def _bounded_lstsq(design: np.ndarray, target: np.ndarray, lower, upper) -> np.ndarray:
    """argmin ‖A x − b‖² within bounds, solved on the reduced system R x ≈ c, RᵀR = AᵀA (Cholesky of the
    column-scaled normal equations) and Rᵀc = Aᵀb: the same minimiser with only as many rows as unknowns, so
    the bounded solver's repeated factorisations cost nothing."""
    scale = np.sqrt((design * design).sum(axis=0))
    scale[scale == 0] = 1.0
    scaled = design / scale
    gram = scaled.T @ scaled + 1e-12 * np.eye(scaled.shape[1])
    r = np.linalg.cholesky(gram).T
    c = np.linalg.solve(r.T, scaled.T @ target)
    lower = np.broadcast_to(np.asarray(lower, dtype=np.float64), scale.shape) * scale
    upper = np.broadcast_to(np.asarray(upper, dtype=np.float64), scale.shape) * scale
    return lsq_linear(r, c, bounds=(lower, upper), method="bvls").x / scale


_FAIR_FIELDS = ("tau", "sigma_tau", "nu", "sigma_nu")


def _refine_fair(obs: np.ndarray, n: int, fair: FairPart, components: np.ndarray, distance: str,
                 rounds: int = 3) -> FairPart:
    """Polish the heuristic fair part by Gauss–Newton on the same distance: the fair fingerprint is linearised in
    (τ, σ_τ, ν, σ_ν) (finite differences of the exact cell masses) and solved jointly with (f_i, f_e), the fraud
    fingerprints held fixed. Klimek's mode and half-width heuristics wander by about a third of a bin on 20,000
    clean units, and f_i otherwise soaks up that misfit (a clean election would "show" f_i ≈ 0.1)."""
    weight = 1.0 / (obs + 1.0) if distance == "klimek" else np.ones_like(obs)
    current = np.array([getattr(fair, name) for name in _FAIR_FIELDS])
    for _ in range(rounds):
        point = FairPart(*current, fair.theta)
        h0 = _fair_cells(point)
        steps = np.array([1e-4, 1e-4, 1e-4, 1e-4])
        jacobian = []
        for j, step in enumerate(steps):
            up, down = current.copy(), current.copy()
            up[j] += step
            down[j] -= step
            jacobian.append((_fair_cells(FairPart(*up, fair.theta)) - _fair_cells(FairPart(*down, fair.theta)))
                            / (2 * step))
        design = n * np.column_stack([components[1] - h0, components[2] - h0, *jacobian]) * weight[:, None]
        target = (obs - n * h0) * weight
        lower = np.r_[0.0, 0.0, np.full(4, -0.02)]
        upper = np.r_[1.0, 1.0, np.full(4, 0.02)]
        delta = _bounded_lstsq(design, target, lower, upper)[2:]
        current = current + delta
        current[[1, 3]] = np.maximum(current[[1, 3]], 1e-3)
        if np.max(np.abs(delta)) < 1e-5:
            break
    return FairPart(*current, fair.theta)


def _fit_at(obs: np.ndarray, n: int, heuristic: FairPart, alpha: float, simulator: _Simulator, distance: str,
            resimulate: bool = True):
    """(fair, f_i, f_e, distance, components) for one α: heuristic fair part, polished, then an exact solve. With
    ``resimulate=False`` the fraud classes keep the heuristic fair part's draws and only the (exact) fair class
    moves: the polish shifts the fair part by a fraction of a bin, which the smeared fraud classes barely feel, and
    the null bootstrap saves a third of its time."""
    components = simulator.components(heuristic, alpha, heuristic.theta)
    fair = _refine_fair(obs, n, heuristic, components, distance)
    if resimulate:
        components = simulator.components(fair, alpha, fair.theta)
    else:
        components = np.vstack([_fair_cells(fair), components[1:]])
    f_i, f_e, dist = _solve(obs, components, n, distance)
    return fair, f_i, f_e, dist, components


def fit_klimek(turnout: np.ndarray, share: np.ndarray, *, alphas: tuple[float, ...] = ALPHAS,
               simulations: int = 100_000, bootstrap: int = 200, null_bootstrap: int = 100,
               null_simulations: int = 40_000, seed: int = 20180318, level: float = 0.95,
               distance: str = "squares") -> KlimekFit:
    """Fit Klimek et al.'s model to units' turnout and winner share (fractions in [0, 1]); module docstring.

    The fair part and θ come from Klimek's heuristics, α from the grid, (f_i, f_e) by exact least squares for each
    α. ``distance="squares"`` minimises the plain squared difference of the fingerprints (unbiased, since the
    expected fingerprint is linear in f); ``"klimek"`` weights each cell by 1/(obs + 1)² as Klimek's code does, which
    penalises predicting units in empty cells and so pulls f_i down (tests/forensics/test_fingerprint.py).

    Uncertainty: the interval is the basic bootstrap interval over ``bootstrap`` fingerprints of n units drawn
    multinomially from the fitted model and refitted (sampling noise only, the fair part held fixed). The p-value of
    each f is (1 + #{n f̂* ≥ n f̂ − ½}) / (1 + ``null_bootstrap``) over data sets of n units simulated from the fitted
    fair part alone (f = 0), each put through the whole estimation again (fair part and θ re-estimated and polished,
    f refitted at the fitted α, fraud classes from ``null_simulations`` draws), so that the noise of Klimek's
    heuristics, which a clean election's f̂ mostly reflects, is part of the null. Its resolution is
    1/(1 + ``null_bootstrap``).
    """
    if distance not in ("squares", "klimek"):
        raise ConfigError(f"unknown Klimek distance {distance!r} (expected 'squares' or 'klimek')")
    t = np.asarray(turnout, dtype=np.float64)
    v = np.asarray(share, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ConfigError("turnout and share must be 1-D arrays of the same length")
    if t.size < 100:
        raise ConfigError(f"the Klimek model needs at least 100 units, not {t.size}")
    rng = np.random.default_rng(seed)
    simulator = _Simulator(simulations, rng)
    heuristic = estimate_fair_part(t, v)
    n = t.size
    obs = _density(t, v) * n
    best = None
    for alpha in alphas:
        fitted = _fit_at(obs, n, heuristic, alpha, simulator, distance)
        if best is None or fitted[3] < best[4]:
            best = (alpha, *fitted)
    alpha, fair, f_i, f_e, dist, components = best
    mixture = components[0] * (1 - f_i - f_e) + components[1] * f_i + components[2] * f_e
    mixture = np.clip(mixture, 0.0, None)
    mixture = mixture / mixture.sum()

    fits = np.array([_solve(c.astype(np.float64), components, n, distance)[:2]
                     for c in rng.multinomial(n, mixture, size=bootstrap)])
    null_simulator = _Simulator(null_simulations, rng)
    nulls = np.empty((null_bootstrap, 2))
    for b in range(null_bootstrap):
        tb, vb, _ = simulate_klimek(fair, 0.0, 0.0, alpha, n, rng)
        nulls[b] = _fit_at(_density(tb, vb) * n, n, estimate_fair_part(tb, vb), alpha, null_simulator,
                           distance, resimulate=False)[1:3]
    lo_q, hi_q = (1 - level) / 2, (1 + level) / 2
    # Basic bootstrap intervals, clipped to the parameter space.
    intervals = [tuple(float(np.clip(2 * est - q, 0, 1)) for q in np.quantile(fits[:, j], [hi_q, lo_q]))
                 for j, est in enumerate((f_i, f_e))]
    # Compared in units, with half a unit of slack: a fraction of one unit is no fraud at all, and the clean sets
    # fit exactly zero more often than a real election does.
    p_values = [(1.0 + np.sum(n * nulls[:, j] >= n * est - 0.5)) / (1.0 + null_bootstrap)
                for j, est in enumerate((f_i, f_e))]
    expected = n * mixture
    with np.errstate(invalid="ignore", divide="ignore"):
        posterior = np.where(expected > 0, n * f_e * components[2] / expected, 0.0)
    shape = (_BINS, _BINS)
    return KlimekFit(fair=fair, f_i=f_i, f_e=f_e, alpha=alpha, distance=dist, f_i_interval=intervals[0],
                     f_e_interval=intervals[1], f_i_p_value=float(p_values[0]), f_e_p_value=float(p_values[1]),
                     units=n, observed=obs.reshape(shape), fitted=expected.reshape(shape),
                     extreme_posterior=posterior.reshape(shape), bootstrap=bootstrap,
                     null_bootstrap=null_bootstrap, null_f=nulls)


def klimek_findings(unit: np.ndarray, turnout: np.ndarray, share: np.ndarray, *, scope: str,
                    fit: KlimekFit | None = None, **options) -> list[Finding]:
    """Two Findings, ``klimek_incremental_fraud`` (f_i) and ``klimek_extreme_fraud`` (f_e). The extreme one flags the
    units in cells where the fitted extreme-fraud class is the more likely one (posterior > 0.5), when its p-value
    is below 0.05: the stations to look at first, not stations shown to be forged."""
    fit = fit if fit is not None else fit_klimek(turnout, share, **options)
    common = {"units": fit.units, "alpha": fit.alpha, "tau": fit.fair.tau, "sigma_tau": fit.fair.sigma_tau,
              "nu": fit.fair.nu, "sigma_nu": fit.fair.sigma_nu, "theta": fit.fair.theta,
              "f_i": fit.f_i, "f_e": fit.f_e, "distance": fit.distance,
              "bootstrap": f"interval: {fit.bootstrap} multinomial fingerprints from the fit; p-value: "
                           f"{fit.null_bootstrap} clean data sets from the fair part, re-estimated from scratch"}
    flagged: tuple[str, ...] = ()
    if fit.f_e_p_value < 0.05 and fit.f_e > 0:
        posterior = fit.extreme_posterior.ravel()[_cells(np.asarray(turnout), np.asarray(share))]
        flagged = tuple(np.asarray(unit)[posterior > 0.5].tolist())
    return [
        Finding(name="klimek_incremental_fraud", scope=scope, statistic=fit.f_i, effect=fit.f_i,
                p_value=fit.f_i_p_value, interval=fit.f_i_interval, flagged_units=(), caveat=CAVEAT,
                details={**common, "statistic_is": "fitted incremental-fraud fraction f_i"}),
        Finding(name="klimek_extreme_fraud", scope=scope, statistic=fit.f_e, effect=fit.f_e,
                p_value=fit.f_e_p_value, interval=fit.f_e_interval, flagged_units=flagged, caveat=CAVEAT,
                details={**common, "statistic_is": "fitted extreme-fraud fraction f_e",
                         "flagged_are": "units in cells where the extreme class has posterior > 0.5"}),
    ]
