"""The tiled grid kernels against their scalar formulas, point by point.

``rate_grid`` evaluates Gamma in tiles with a sorted-tile fast path (per-pair index
bounds found by bisection) and a masked path for any other order; ``all_pairs_grid``
computes each distinct pair once. The reference here is the scalar ``rate_point`` /
``pair_phase_space`` / ``pair_delta`` evaluated one omega at a time (the formulas
that ``tests/test_phase_space.py`` checks against quadrature of eq. 39).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renp_scan.kernels.phase_space import (
    all_pairs_grid,
    empty_pairs,
    pair_delta,
    pair_phase_space,
    pair_threshold,
)
from renp_scan.kernels.rate import (
    N_PAIR_CONSTS,
    N_PAIRS_MAX,
    ORDER_SAMPLES,
    TILE,
    active_pairs,
    rate_grid,
    rate_point,
)

EPS = 1.3859  # Cs 6P1/2 - 6S1/2 [eV], paper Sec. III
A_EV = 1.3127  # eps_u - eps_e of Cs [eV]
AMP = 2.5e3


def nucleus_weights(majorana=True):
    eye = np.eye(3)
    return eye.copy(), eye * (1.0 if majorana else 0.0)


def core_weights(seed):
    rng = np.random.default_rng(seed)
    b = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    b = b + b.conj().T  # Hermitian, like b_ij of eq. 6
    return np.abs(b) ** 2, (b * b).real  # V may be negative: sums can cancel


def scalar_rates(omega, masses, w_kin, w_maj, eps=EPS):
    return np.array([rate_point(w, eps, A_EV, AMP, masses, w_kin, w_maj) for w in omega])


def term_scale(omega, masses, w_kin, w_maj, eps=EPS):
    """Sum of |pair terms| at each omega: the size rounding errors are relative to."""
    out = np.zeros(omega.size)
    for k, w in enumerate(omega):
        den = (A_EV + w) * (eps - w)
        for i in range(3):
            for j in range(3):
                d = pair_delta(w, eps, masses[i], masses[j])
                kin = abs(w * w / 3) + masses[i] ** 2 + masses[j] ** 2
                out[k] += d * (abs(w_kin[i, j]) * kin + abs(w_maj[i, j]) * masses[i] * masses[j])
        out[k] *= AMP / den**2
    return out


def check_against_scalar(omega, masses, w_kin, w_maj, rtol=1e-13, eps=EPS):
    omega = np.ascontiguousarray(omega, dtype=float)
    got = np.full(omega.size, np.nan)
    rate_grid(omega, eps, A_EV, AMP, masses, w_kin, w_maj, got)
    want = scalar_rates(omega, masses, w_kin, w_maj, eps)
    assert not np.isnan(got).any()
    # the same open/closed decision: exact zeros in the same places
    np.testing.assert_array_equal(got == 0.0, want == 0.0)
    scale = term_scale(omega, masses, w_kin, w_maj, eps)
    # relative to the value, plus a few ulp of the largest term where V < 0 makes terms cancel
    np.testing.assert_array_less(np.abs(got - want), rtol * np.abs(want) + 1e-15 * scale + 1e-300)
    return got, want


MASSES = np.array([0.01, 0.0132250, 0.0513225])  # NH, m0 = 0.01 eV


def grid_with_thresholds(masses, n=3001):
    th = np.unique([pair_threshold(EPS, mi, mj) for mi in masses for mj in masses])
    near = np.concatenate([t * (1 + np.array([-1e-6, -1e-12, 0.0, 1e-12, 1e-6])) for t in th])
    return np.sort(np.concatenate([np.linspace(0, EPS, n)[1:-1], near]))


@pytest.mark.parametrize(
    "weights", [nucleus_weights(True), nucleus_weights(False), core_weights(1)]
)
@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled", "one_swap_per_tile"])
def test_rate_grid_matches_rate_point_in_any_order(weights, order):
    omega = grid_with_thresholds(MASSES)
    if order == "descending":
        omega = omega[::-1]
    elif order == "shuffled":
        omega = np.random.default_rng(0).permutation(omega)
    elif order == "one_swap_per_tile":
        omega = omega.copy()
        for start in range(0, omega.size - 1, TILE):
            omega[[start, start + 1]] = omega[[start + 1, start]]
    check_against_scalar(omega, MASSES, *weights)


def sampled_positions(m):
    """Indices of a tile of ``m`` points that rate_grid samples to decide if it is in order."""
    return {s * (m - 1) // (ORDER_SAMPLES - 1) for s in range(ORDER_SAMPLES)}


@pytest.mark.parametrize(
    "weights", [nucleus_weights(True), nucleus_weights(False), core_weights(3)]
)
@pytest.mark.parametrize(
    "intruder", ["closed_into_open", "open_into_closed", "across_one_threshold", "nan", "negative"]
)
def test_rate_grid_out_of_order_points_in_a_tile_that_samples_as_sorted(weights, intruder):
    """A point that breaks the order where the order check does not sample it (so the tile
    is split into runs by bisection anyway) still gets the scalar kernel's value: the run
    loop it lands in finds that its open pairs differ and the masked loop takes over."""
    omega = grid_with_thresholds(MASSES)  # ~3000 points: one tile
    assert omega.size < TILE
    sampled = sampled_positions(omega.size)
    top = max(pair_threshold(EPS, mi, mj) for mi in MASSES for mj in MASSES)
    low = min(pair_threshold(EPS, mi, mj) for mi in MASSES for mj in MASSES)
    all_open = [k for k in np.flatnonzero(omega < low) if k not in sampled]
    all_closed = [k for k in np.flatnonzero(omega > top) if k not in sampled]
    between = [k for k in np.flatnonzero((omega > low) & (omega < top)) if k not in sampled]
    omega = omega.copy()
    for k in (all_open[len(all_open) // 2], all_open[-3]):
        if intruder == "closed_into_open":
            omega[k] = omega[all_closed[len(all_closed) // 2]]
        elif intruder == "open_into_closed":
            omega[all_closed[len(all_closed) // 3]] = omega[k]
        elif intruder == "across_one_threshold":
            omega[between[len(between) // 2]], omega[between[0]] = (
                omega[between[0]], omega[between[len(between) // 2]])
        elif intruder == "nan":
            omega[k] = np.nan
        else:
            omega[k] = -0.1
    finite = np.isfinite(omega)
    got = np.full(omega.size, np.nan)
    rate_grid(omega, EPS, A_EV, AMP, MASSES, *weights, got)
    assert (got[~finite] == 0.0).all()
    check_against_scalar(omega[finite], MASSES, *weights)
    # the same bits as the points computed one at a time in a sorted grid
    single = np.empty(1)
    for k in range(omega.size):
        rate_grid(omega[k:k + 1], EPS, A_EV, AMP, MASSES, *weights, single)
        assert single[0] == got[k] or (math.isnan(omega[k]) and got[k] == 0.0)


@pytest.mark.parametrize("n", [0, 1, 2, TILE - 1, TILE, TILE + 1, 3 * TILE + 7])
def test_rate_grid_sizes_around_the_tile(n):
    omega = np.linspace(0.01, EPS * 0.999, n)
    check_against_scalar(omega, MASSES, *core_weights(2))


def test_rate_grid_zero_above_all_thresholds_and_outside_the_domain():
    top = max(pair_threshold(EPS, mi, mj) for mi in MASSES for mj in MASSES)
    omega = np.array([-1.0, 0.0, 1e-300, top * (1 - 1e-9), top, top * (1 + 1e-12), 0.9 * EPS, EPS,
                      1.5 * EPS, np.nan, np.inf, -np.inf])
    for o in (omega, np.sort(omega[np.isfinite(omega)])):
        got = np.full(o.size, np.nan)
        rate_grid(o, EPS, A_EV, AMP, MASSES, *nucleus_weights(), got)
        assert not np.isnan(got).any()
        expect_open = (o > 0) & (o < top)
        np.testing.assert_array_equal(got > 0.0, expect_open)
        np.testing.assert_array_equal(got[~expect_open], 0.0)


def test_rate_grid_no_active_pair_gives_zeros():
    zero = np.zeros((3, 3))
    got = np.full(10, np.nan)
    rate_grid(np.linspace(0.1, 0.6, 10), EPS, A_EV, AMP, MASSES, zero, zero, got)
    np.testing.assert_array_equal(got, 0.0)


def test_rate_grid_writes_only_its_slice():
    omega = np.linspace(0.1, 0.6, 2 * TILE + 3)
    buf = np.full(omega.size + 2, -7.0)
    rate_grid(omega, EPS, A_EV, AMP, MASSES, *nucleus_weights(), buf[1:-1])
    assert buf[0] == -7.0 and buf[-1] == -7.0
    assert (buf[1:-1] > 0).all()


@settings(deadline=None, max_examples=60)
@given(
    masses=st.lists(st.floats(0.0, 0.3), min_size=3, max_size=3),
    seed=st.integers(0, 2**31),
    n=st.integers(1, 3 * TILE),
    sort=st.booleans(),
    eps=st.sampled_from([EPS, 8.437]),
)
def test_rate_grid_property(masses, seed, n, sort, eps):
    rng = np.random.default_rng(seed)
    omega = rng.uniform(0.0, eps, n)
    if sort:
        omega.sort()
    w_kin, w_maj = core_weights(seed)
    w_kin[rng.random((3, 3)) < 0.3] = 0.0
    w_kin = np.triu(w_kin) + np.triu(w_kin, 1).T  # keep symmetric after zeroing
    check_against_scalar(omega, np.array(masses), w_kin, w_maj, rtol=1e-12, eps=eps)


@pytest.mark.parametrize("sort", [True, False])
def test_all_pairs_grid_every_point_and_symmetry(sort):
    masses = np.array([0.0, 0.0086, 0.0502])
    omega = grid_with_thresholds(masses, n=2001)
    if not sort:
        omega = np.random.default_rng(3).permutation(omega)
    out_i, out_d = empty_pairs(omega.size)
    out_i[:] = np.nan
    out_d[:] = np.nan
    all_pairs_grid(omega, EPS, masses, 1.0, out_i, out_d)
    for i in range(3):
        for j in range(3):
            want_i = [pair_phase_space(w, EPS, masses[i], masses[j], 1.0) for w in omega]
            want_d = [pair_delta(w, EPS, masses[i], masses[j]) for w in omega]
            # the grid inlines the same scalar formula; only FMA contraction may differ
            np.testing.assert_allclose(out_i[i, j], want_i, rtol=1e-13, atol=1e-13 * EPS**2)
            np.testing.assert_allclose(out_d[i, j], want_d, rtol=1e-13, atol=1e-15)
            np.testing.assert_array_equal(out_i[i, j] == 0.0, np.array(want_i) == 0.0)
    # symmetric pairs are bitwise equal
    np.testing.assert_array_equal(out_i, out_i.transpose(1, 0, 2))
    np.testing.assert_array_equal(out_d, out_d.transpose(1, 0, 2))
    assert math.isfinite(out_i.sum()) and math.isfinite(out_d.sum())


@settings(deadline=None, max_examples=40)
@given(
    start=st.integers(0, 3000),
    length=st.integers(1, 3000),
    m0=st.sampled_from([0.0, 1e-3, 0.05, 0.3]),
    seed=st.integers(0, 100),
)
def test_rate_grid_bits_do_not_depend_on_position(start, length, m0, seed):
    """A grid and any slice of it give bit-identical values (blocks may split omega)."""
    masses = np.sqrt(m0**2 + np.array([0.0, 7.4e-5, 2.5e-3]))
    omega = np.linspace(0.0, EPS, 6003)[1:-1]
    for w_kin, w_maj in (nucleus_weights(), core_weights(seed)):
        full = np.empty(omega.size)
        rate_grid(omega, EPS, A_EV, AMP, masses, w_kin, w_maj, full)
        stop = min(start + length, omega.size)
        part = np.empty(stop - start)
        rate_grid(omega[start:stop], EPS, A_EV, AMP, masses, w_kin, w_maj, part)
        np.testing.assert_array_equal(part, full[start:stop])
        out_i, out_d = empty_pairs(omega.size)
        all_pairs_grid(omega, EPS, masses, 1.0, out_i, out_d)
        part_i, part_d = empty_pairs(stop - start)
        all_pairs_grid(omega[start:stop], EPS, masses, 1.0, part_i, part_d)
        np.testing.assert_array_equal(part_i, out_i[:, :, start:stop])
        np.testing.assert_array_equal(part_d, out_d[:, :, start:stop])


def pair_weight_from_constants(row, omega, eps):
    """mult (W I^D_ij + V m_i m_j) from one row of active_pairs, as its docstring states."""
    d = eps * (eps - 2 * omega)
    q = (eps - omega) ** 2 + omega**2 / 3
    return row[2] * omega**2 / 3 + row[3] + row[4] * omega**2 / (3 * d) - row[5] * q / (2 * d * d)


@settings(deadline=None, max_examples=60)
@given(
    masses=st.lists(st.floats(0.0, 0.3), min_size=3, max_size=3),
    seed=st.integers(0, 2**31),
    frac=st.floats(0.01, 0.45),
)
def test_active_pairs_restate_pair_phase_space(masses, seed, frac):
    """The per-pair constants of the rate kernel reproduce I_ij of phase_space.py, sorted."""
    masses = np.array(masses)
    w_kin, w_maj = core_weights(seed)
    w_kin[0, 2] = w_kin[2, 0] = 0.0
    w_maj[0, 2] = w_maj[2, 0] = 0.0  # one inactive pair: not listed
    coef = np.full((N_PAIRS_MAX, N_PAIR_CONSTS), np.nan)
    n = active_pairs(masses, w_kin, w_maj, coef)
    assert n == 5
    omega = frac * EPS
    expected = []
    for i in range(3):
        for j in range(i, 3):
            if (i, j) == (0, 2):
                continue
            mult = 1.0 if i == j else 2.0
            weight = mult * (w_kin[i, j] * pair_phase_space(omega, EPS, masses[i], masses[j], 0.0)
                             + w_maj[i, j] * masses[i] * masses[j])
            expected.append(((masses[i] + masses[j]) ** 2, (masses[i] - masses[j]) ** 2, weight))
    # rows sorted by threshold: the open pairs at any omega are the first rows
    assert list(coef[:n, 0]) == sorted(coef[:n, 0])
    assert np.isnan(coef[n:]).all()
    got = sorted((row[0], row[1], pair_weight_from_constants(row, omega, EPS)) for row in coef[:n])
    for (s_got, d_got, w_got), (s_want, d_want, w_want) in zip(got, sorted(expected), strict=True):
        assert s_got == s_want and d_got == pytest.approx(d_want, rel=1e-15, abs=1e-300)
        if pair_delta(omega, EPS, math.sqrt(s_want) / 2, math.sqrt(s_want) / 2) > 0:
            scale = abs(omega**2) + s_want + 1e-300
            assert abs(w_got - w_want) <= 1e-13 * scale * np.abs(w_kin).max() + 1e-13 * abs(w_want)


@pytest.mark.parametrize("weights", [nucleus_weights(True), core_weights(4)])
def test_rate_grid_bits_do_not_depend_on_order(weights):
    """Sorted (run-per-open-count) and unsorted (masked) paths give the same bits."""
    omega = grid_with_thresholds(MASSES)
    perm = np.random.default_rng(5).permutation(omega.size)
    sorted_out = np.empty(omega.size)
    shuffled_out = np.empty(omega.size)
    rate_grid(omega, EPS, A_EV, AMP, MASSES, *weights, sorted_out)
    rate_grid(omega[perm], EPS, A_EV, AMP, MASSES, *weights, shuffled_out)
    np.testing.assert_array_equal(shuffled_out, sorted_out[perm])


#: Stated bound of the float32 path against float64, relative to the sum of |pair terms|.
F32_BOUND = 5 * 2.0**-24


@pytest.mark.parametrize("weights", [nucleus_weights(True), nucleus_weights(False),
                                     core_weights(6)])
@pytest.mark.parametrize("order", ["ascending", "shuffled"])
def test_float32_path_within_its_bound_of_float64(weights, order):
    omega = grid_with_thresholds(MASSES, n=20001)
    if order == "shuffled":
        omega = np.random.default_rng(7).permutation(omega)
    f64 = np.empty(omega.size)
    f32 = np.full(omega.size, np.nan, dtype=np.float32)
    rate_grid(omega, EPS, A_EV, AMP, MASSES, *weights, f64)
    rate_grid(omega, EPS, A_EV, AMP, MASSES, *weights, f32)
    assert not np.isnan(f32).any()
    np.testing.assert_array_equal(f32 == 0.0, f64 == 0.0)  # same open/closed decision
    scale = term_scale(omega, MASSES, *weights)
    err = np.abs(f32.astype(np.float64) - f64)
    assert (err <= F32_BOUND * scale).all()
    # and it is a different computation from rounding the float64 result (else pointless),
    # yet never further from it than the bound
    assert (f32 != f64.astype(np.float32)).any()


def test_float32_path_bits_do_not_depend_on_position_or_order():
    masses = np.sqrt(0.05**2 + np.array([0.0, 7.4e-5, 2.5e-3]))
    omega = np.linspace(0.0, EPS, 3 * TILE + 11)[1:-1]
    for weights in (nucleus_weights(), core_weights(8)):
        full = np.empty(omega.size, dtype=np.float32)
        rate_grid(omega, EPS, A_EV, AMP, masses, *weights, full)
        part = np.empty(TILE + 5, dtype=np.float32)
        rate_grid(omega[777:777 + TILE + 5], EPS, A_EV, AMP, masses, *weights, part)
        np.testing.assert_array_equal(part, full[777:777 + TILE + 5])
        perm = np.random.default_rng(9).permutation(omega.size)
        shuffled = np.empty(omega.size, dtype=np.float32)
        rate_grid(omega[perm], EPS, A_EV, AMP, masses, *weights, shuffled)
        np.testing.assert_array_equal(shuffled, full[perm])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("majorana", [True, False])
def test_diagonal_run_loops_give_the_general_loops_bits(dtype, majorana):
    """Nucleus-channel pairs (i = j) take run loops without the factor and the term that
    are exactly 1 and 0 for them: bit for bit what the general loops give, at every
    number of open pairs (ascending grid through all three thresholds). Core-channel
    pairs and more than three rows never take them."""
    from renp_scan.kernels.rate import _all_diagonal, _tile

    masses = np.array([0.01, 0.05, 0.12])
    w_kin, w_maj = nucleus_weights(majorana)
    coef = np.empty((N_PAIRS_MAX, N_PAIR_CONSTS))
    n_pairs = active_pairs(masses, w_kin, w_maj, coef)
    assert n_pairs == 3 and _all_diagonal(coef, n_pairs)
    core = np.empty((N_PAIRS_MAX, N_PAIR_CONSTS))
    assert not _all_diagonal(core, active_pairs(masses, *core_weights(3), core))
    # D = eps (eps - 2 w) falls through (2 m_3)^2, (2 m_2)^2 and (2 m_1)^2 on this grid
    top = 0.5 * (EPS - (2 * masses[0]) ** 2 / EPS)
    omega = np.linspace(0.05, top * 1.001, 6001)
    fast, general = np.empty(omega.size, dtype), np.empty(omega.size, dtype)
    _tile(omega, EPS, A_EV, AMP, coef, n_pairs, True, fast)
    _tile(omega, EPS, A_EV, AMP, coef, n_pairs, False, general)
    assert np.array_equal(fast.view(np.uint8), general.view(np.uint8))
    opens = [np.count_nonzero(EPS * (EPS - 2 * omega) > (2 * m) ** 2) for m in masses]
    assert 0 < opens[2] < opens[1] < opens[0] < omega.size  # every run length was taken
    assert np.count_nonzero(fast) == opens[0]
