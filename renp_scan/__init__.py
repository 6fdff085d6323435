"""renp_scan: Numba-accelerated parameter scans of RENP spectra.

Implements Yoshimura & Sasao, "Radiative emission of neutrino pair from nucleus and
inner core electrons in heavy atoms", arXiv:1310.6472. Energies and masses in eV,
rates in Hz, densities in cm^-3, volumes in cm^3.

Public API
----------
tf_slope, coulomb_integrals, phase_space, neutrino_masses, spectrum, open_cube,
available_targets, get_target, InputError.
"""

from __future__ import annotations

from ._version import __version__
from .errors import InputError
from .model.coulomb import coulomb_integrals, tf_slope
from .model.neutrinos import neutrino_masses
from .model.phase_space import phase_space
from .model.spectrum import spectrum
from .model.targets import available_targets, get_target

__all__ = [
    "InputError",
    "__version__",
    "available_targets",
    "coulomb_integrals",
    "get_target",
    "neutrino_masses",
    "open_cube",
    "phase_space",
    "spectrum",
    "tf_slope",
]


def open_cube(path, atom, verify=False):
    """Open one target's group of a finished cube as an :class:`xarray.Dataset`.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.h5`` cube written by ``renp-scan run``.
    atom : str
        Target key (the group name), e.g. ``"Cs"``.
    verify : bool
        First check every stored block against its CRC-32 (``renp-scan verify``);
        a damaged block raises InputError naming it.

    Raises
    ------
    InputError
        For a missing, foreign, damaged, unfinished or incompatible file, or an unknown
        target group.
    """
    # xarray/h5py are imported only when a cube is opened, keeping `import renp_scan` light.
    from .cube.reader import open_cube as _open_cube  # noqa: PLC0415

    return _open_cube(path, atom, verify=verify)
