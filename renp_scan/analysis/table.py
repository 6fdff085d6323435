"""Rate tables: the slice of a cube (or of direct model evaluations) an analysis uses.

A :class:`RateTable` holds Gamma(omega) [Hz] (Yoshimura & Sasao eqs. 18-23) for
one target, channel, Coulomb model and Majorana-phase row, on the axes (hierarchy,
nature, m0, omega). It is read from a cube through xarray (:meth:`RateTable.from_dataset`,
:meth:`RateTable.from_cube`) or computed with :func:`renp_scan.spectrum`
(:meth:`RateTable.from_model`), which tests use to build cube-shaped data without
the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..cube.layout import DIMS
from ..cube.reader import describe_cube, open_cube
from ..errors import InputError
from ..model.physics import DEFAULT_COULOMB_MODEL, DENSITY_CM3, ETA, VOLUME_CM3, Physics
from ..model.spectrum import rate_line
from ..model.targets import get_target

#: Dimensions every cube ``rate`` variable has, in order (the cube layout's DIMS).
CUBE_DIMS = DIMS


@dataclass(frozen=True, eq=False)
class RateTable:
    """Gamma [Hz] on (hierarchy, nature, m0, omega) for one target/channel/Coulomb model/phase.

    Attributes
    ----------
    target : str
        Target key, e.g. ``"Cs"``.
    eps_eg_eV : float
        Level spacing eps_e - eps_g of the target [eV].
    channel : str
        ``"nucleus"`` or ``"core"``.
    phase : int
        Majorana-phase row index of the source cube.
    hierarchies, natures : tuple of str
        Labels of the first two axes (``"NH"``/``"IH"``, ``"majorana"``/``"dirac"``).
    m0_eV : ndarray, shape (M,)
        Smallest neutrino mass grid [eV], strictly increasing.
    omega_eV : ndarray, shape (W,)
        Photon energies [eV], strictly increasing (possibly a subset of the cube's).
    rate_Hz : ndarray, shape (H, N, M, W)
        Gamma(omega) [Hz].
    attrs : dict
        Provenance (cube path and scan digest, physics settings).
    coulomb_model : str
        Model of the Coulomb integrals the rates were computed with
        (``"thomas-fermi"``, the paper's, or ``"valence"``).
    """

    target: str
    eps_eg_eV: float
    channel: str
    phase: int
    hierarchies: tuple
    natures: tuple
    m0_eV: np.ndarray
    omega_eV: np.ndarray
    rate_Hz: np.ndarray
    attrs: dict = field(default_factory=dict)
    coulomb_model: str = DEFAULT_COULOMB_MODEL

    def __post_init__(self):
        m0 = np.array(self.m0_eV, dtype=float)
        omega = np.array(self.omega_eV, dtype=float)
        rate = np.array(self.rate_Hz, dtype=float)
        expected = (len(self.hierarchies), len(self.natures), m0.size, omega.size)
        if rate.shape != expected:
            raise InputError("rate_Hz", f"has shape {rate.shape}, expected {expected}")
        if m0.ndim != 1 or m0.size == 0 or np.any(np.diff(m0) <= 0):
            raise InputError("m0_eV", "must be a non-empty strictly increasing 1-D grid")
        if omega.ndim != 1 or omega.size == 0 or np.any(np.diff(omega) <= 0):
            raise InputError("omega_eV", "must be a non-empty strictly increasing 1-D grid")
        if not np.all(np.isfinite(rate)):
            raise InputError("rate", "contains NaN or inf (an unfinished or damaged cube?)")
        for arr in (m0, omega, rate):
            arr.setflags(write=False)
        object.__setattr__(self, "m0_eV", m0)
        object.__setattr__(self, "omega_eV", omega)
        object.__setattr__(self, "rate_Hz", rate)
        object.__setattr__(self, "hierarchies", tuple(str(h) for h in self.hierarchies))
        object.__setattr__(self, "natures", tuple(str(n) for n in self.natures))
        object.__setattr__(self, "coulomb_model", str(self.coulomb_model))

    def index(self, hierarchy: str, nature: str) -> tuple[int, int]:
        """Axis positions of a (hierarchy, nature) pair; InputError if absent."""
        if hierarchy not in self.hierarchies:
            raise InputError("hierarchy", f"{hierarchy!r} is not in the rate table; it has "
                             f"{', '.join(self.hierarchies)}")
        if nature not in self.natures:
            raise InputError("nature", f"{nature!r} is not in the rate table; it has "
                             f"{', '.join(self.natures)}")
        return self.hierarchies.index(hierarchy), self.natures.index(nature)

    @classmethod
    def from_dataset(cls, ds, channel=None, phase=0, omega_eV=None, select=None, attrs=None,
                     coulomb_model=None):
        """Take one channel, Coulomb model and phase row out of a cube's xarray Dataset.

        Parameters
        ----------
        ds : xarray.Dataset
            One target group, as returned by :func:`renp_scan.open_cube` (variable
            ``rate`` [Hz] on dims :data:`CUBE_DIMS`: (hierarchy, nature, channel,
            coulomb_model, phase, m0, omega)).
        channel : str, optional
            Channel label; default the cube's only channel, else ``"nucleus"``.
        phase : int
            Phase row index.
        omega_eV : array_like, optional
            Photon energies [eV] the analysis needs; only the cube columns that
            bracket them are read (a cube may be far larger than memory).
        select : dict, optional
            Labels for any dim of ``rate`` beyond :data:`CUBE_DIMS` (e.g.
            ``{"isotope": "Xe136"}`` on a hand-built dataset); dims of length 1 are
            taken without one.
        attrs : dict, optional
            Extra provenance to keep with the table.
        coulomb_model : str, optional
            Coulomb-model label (``"thomas-fermi"`` or ``"valence"``); default the
            cube's first (``"thomas-fermi"`` for a scan without ``coulomb_models``).
        """
        if "rate" not in ds:
            raise InputError("cube", "the dataset has no variable 'rate'")
        rate = ds["rate"]
        missing = [d for d in CUBE_DIMS if d not in rate.dims]
        if missing:
            raise InputError("cube", f"'rate' lacks the dims {missing}; it has {rate.dims}")
        select = dict(select or {})
        for dim in rate.dims:
            if dim in CUBE_DIMS:
                continue
            if dim in select:
                labels = [str(v) for v in rate[dim].values]
                if str(select[dim]) not in labels:
                    raise InputError(dim, f"{select[dim]!r} is not in the cube; it has {labels}")
                rate = rate.isel({dim: labels.index(str(select[dim]))})
            elif rate.sizes[dim] == 1:
                rate = rate.isel({dim: 0})
            else:
                raise InputError(dim, f"the cube has {rate.sizes[dim]} values along {dim!r}; "
                                 "choose one")
        channels = [str(c) for c in rate["channel"].values]
        if channel is None:
            channel = channels[0] if len(channels) == 1 else "nucleus"
        if channel not in channels:
            raise InputError("channel", f"{channel!r} is not in the cube; it has {channels}")
        models = [str(m) for m in rate["coulomb_model"].values]
        if coulomb_model is None:
            coulomb_model = models[0]
        if str(coulomb_model) not in models:
            raise InputError("coulomb_model", f"{coulomb_model!r} is not in the cube; it has "
                             f"{models}")
        coulomb_model = str(coulomb_model)
        n_phase = rate.sizes["phase"]
        if not isinstance(phase, (int, np.integer)) or not 0 <= int(phase) < n_phase:
            raise InputError("phase", f"must be a row index in [0, {n_phase}), got {phase!r}")
        rate = rate.isel(channel=channels.index(channel),
                         coulomb_model=models.index(coulomb_model), phase=int(phase))
        grid = np.asarray(ds["omega"].values, dtype=float)
        if omega_eV is not None:
            cols = bracketing_columns(grid, omega_eV)
            rate = rate.isel(omega=cols)
            grid = grid[cols]
        rate = rate.transpose("hierarchy", "nature", "m0", "omega")
        eps = ds.attrs.get("eps_eg_eV")
        if eps is None:
            raise InputError("cube", "the target group has no attribute 'eps_eg_eV'")
        target = str(ds.attrs.get("name", ds.attrs.get("target", "")))
        return cls(
            target=target, eps_eg_eV=float(eps), channel=channel, phase=int(phase),
            hierarchies=tuple(str(h) for h in rate["hierarchy"].values),
            natures=tuple(str(n) for n in rate["nature"].values),
            m0_eV=np.asarray(ds["m0"].values, dtype=float), omega_eV=grid,
            rate_Hz=np.asarray(rate.values, dtype=float), attrs=dict(attrs or {}),
            coulomb_model=coulomb_model)

    @classmethod
    def from_cube(cls, path, atom=None, channel=None, phase=0, omega_eV=None, select=None,
                  coulomb_model=None):
        """Read a slice of a finished cube file (see :meth:`from_dataset`).

        The provenance kept in :attr:`attrs` is the cube path, its scan name and
        sha256, and the density [cm^-3], volume [cm^3] and eta it was computed with.
        """
        root = describe_cube(path)["attrs"]
        keep = {"cube_path": str(path)}
        for key in ("scan_name", "scan_sha256", "density_cm3", "volume_cm3", "eta"):
            if key in root:
                keep[f"cube_{key}"] = root[key]
        with open_cube(path, atom) as ds:
            table = cls.from_dataset(ds, channel, phase, omega_eV, select, attrs=keep,
                                     coulomb_model=coulomb_model)
            if not table.target:
                name = atom if atom is not None else str(ds.attrs.get("name", ""))
                object.__setattr__(table, "target", name)
        return table

    @classmethod
    def from_model(cls, atom, omega_eV, m0_eV, hierarchies=("NH", "IH"),
                   natures=("majorana", "dirac"), channel="nucleus",
                   majorana_phases_rad=(0.0, 0.0), density_cm3=DENSITY_CM3,
                   volume_cm3=VOLUME_CM3, eta=ETA, oscillation_data=None,
                   coulomb_model=DEFAULT_COULOMB_MODEL):
        """Compute a table with the model of :func:`renp_scan.spectrum` (a cube without the engine).

        Parameters
        ----------
        atom : str
            Target key.
        omega_eV, m0_eV : array_like
            Grids [eV], strictly increasing.
        hierarchies, natures : sequence of str
            Axis labels (``"NH"``/``"IH"``; ``"majorana"``/``"dirac"``).
        channel : {"nucleus", "core"}
            Emission channel.
        majorana_phases_rad : (float, float)
            (alpha21, alpha31) [rad].
        density_cm3, volume_cm3, eta : float
            n [cm^-3], V [cm^3] and eta of eq. 18.
        oscillation_data : OscillationData, optional
            Replaces the package's NuFIT data.
        coulomb_model : {"thomas-fermi", "valence"}
            Model of the Coulomb integrals (see :func:`renp_scan.spectrum`).
        """
        omega = np.asarray(omega_eV, dtype=float)
        m0 = np.asarray(m0_eV, dtype=float)
        target = get_target(atom)
        physics = Physics(channel=channel, majorana_phases_rad=majorana_phases_rad,
                          density_cm3=density_cm3, volume_cm3=volume_cm3, eta=eta,
                          oscillation_data=oscillation_data, coulomb_model=coulomb_model)
        rate = np.empty((len(hierarchies), len(natures), m0.size, omega.size))
        for ih, h in enumerate(hierarchies):
            for inat, nat in enumerate(natures):
                point = replace(physics, hierarchy=h, majorana=nat)
                for im, m in enumerate(m0):
                    rate_line(target, omega, float(m), point, out=rate[ih, inat, im])
        return cls(target=str(atom), eps_eg_eV=target.eps_eg_eV, channel=channel,
                   phase=0, hierarchies=tuple(hierarchies), natures=tuple(natures), m0_eV=m0,
                   omega_eV=omega, rate_Hz=rate,
                   attrs={"source": "renp_scan.spectrum", "density_cm3": physics.density_cm3,
                          "volume_cm3": physics.volume_cm3, "eta": physics.eta},
                   coulomb_model=coulomb_model)


def bracketing_columns(grid_eV, omega_eV) -> np.ndarray:
    """Sorted indices of the grid points that bracket each requested omega.

    Parameters
    ----------
    grid_eV : ndarray, shape (W,)
        Strictly increasing grid [eV].
    omega_eV : array_like
        Requested photon energies [eV], each inside [grid[0], grid[-1]].

    Returns
    -------
    ndarray of int
        Unique indices (an omega on a grid point needs that point only).
    """
    i0, i1, w = linear_weights(grid_eV, omega_eV)
    cols = np.concatenate([i0[w < 1.0], i1[w > 0.0]])
    return np.unique(cols)


def linear_weights(grid_eV, omega_eV):
    """Linear-interpolation weights of ``omega_eV`` on ``grid_eV``.

    A value on a grid point gets that point with weight exactly 1, so
    interpolation there returns the stored number unchanged.

    Parameters
    ----------
    grid_eV : ndarray, shape (W,)
        Strictly increasing grid [eV].
    omega_eV : array_like, shape (K,)
        Photon energies [eV].

    Returns
    -------
    (i0, i1, w) : tuple of ndarray
        Value = (1 - w) * f[i0] + w * f[i1].

    Raises
    ------
    InputError
        ``frequencies`` if an omega lies outside the grid.
    """
    grid = np.asarray(grid_eV, dtype=float)
    omega = np.atleast_1d(np.asarray(omega_eV, dtype=float))
    lo, hi = grid[0], grid[-1]
    # Frequencies computed from eV rules may miss a grid end by rounding only.
    slack = 1e-12 * max(abs(hi), 1.0)
    outside = (omega < lo - slack) | (omega > hi + slack)
    if np.any(outside):
        raise InputError("frequencies", f"omega = {omega[outside][0]:.9g} eV lies outside the "
                         f"rate table's omega range [{lo:.9g}, {hi:.9g}] eV")
    omega = np.clip(omega, lo, hi)
    if grid.size == 1:
        zeros = np.zeros(omega.size, dtype=np.int64)
        return zeros, zeros, np.zeros(omega.size)
    i1 = np.clip(np.searchsorted(grid, omega, side="right"), 1, grid.size - 1)
    i0 = i1 - 1
    w = (omega - grid[i0]) / (grid[i1] - grid[i0])
    # On a grid point, use it alone (w exactly 0), not a neighbour times 0.
    on_left = omega == grid[i0]
    w[on_left] = 0.0
    return i0, i1, w
