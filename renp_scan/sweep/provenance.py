"""What a cube records about the physics it was computed with (root and target attributes).

A resume and a rerun compare these with the file's own (see
:func:`renp_scan.cube.writer.open_partial`), so blocks computed from other data never mix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..model import constants
from ..model.oscillations import load_oscillation_data
from ..model.spectrum import resolve_level_ratio
from ..model.targets import get_target


def _flatten(prefix: str, value, out: dict) -> None:
    if hasattr(value, "__dataclass_fields__"):
        value = {k: getattr(value, k) for k in value.__dataclass_fields__}
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}_{key}", item, out)  # CF names: no dots
    elif isinstance(value, (bool, int, float, str, np.integer, np.floating)):
        out[prefix] = value
    elif isinstance(value, (list, tuple, np.ndarray)):
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            out[prefix] = arr
        else:
            out[prefix] = str(value)


def physics_provenance(spec) -> dict:
    """Root attributes: scan text and digest, run parameters, constants, oscillation data."""
    attrs = {
        "scan_name": spec.name,
        "scan_description": spec.description,
        "scan_path": str(spec.path) if spec.path else "",
        "scan_text": spec.text,
        "scan_sha256": spec.sha256,
        "density_cm3": float(spec.density_cm3),
        "volume_cm3": float(spec.volume_cm3),
        "eta": float(spec.eta),
    }
    for name in dir(constants):
        value = getattr(constants, name)
        if name.isupper() and isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[f"constant_{name}"] = float(value)
    _flatten("oscillation", load_oscillation_data(spec.oscillation_file), attrs)
    if spec.oscillation_file:
        text = Path(spec.oscillation_file).read_bytes()
        attrs["oscillation_file"] = spec.oscillation_file
        attrs["oscillation_file_sha256"] = hashlib.sha256(text).hexdigest()
        attrs["oscillation_file_text"] = text.decode("utf-8", "replace")
    if spec.targets_file:
        text = Path(spec.targets_file).read_bytes()
        attrs["targets_file"] = spec.targets_file
        attrs["targets_file_sha256"] = hashlib.sha256(text).hexdigest()
        attrs["targets_file_text"] = text.decode("utf-8", "replace")
    return attrs


def target_attributes(target_key: str, extra_files=(), level_ratio=None) -> dict:
    """Group attributes of a target: Z, N, isotope, eps_eg_eV, levels_eV, A_ug_per_s, level_ratio.

    ``extra_files`` are user targets files (``scan.targets_file``) searched first;
    ``level_ratio`` is the scan's ``physics.level_ratio`` (None: the target's own). The
    recorded form is compared on resume, so blocks of the two forms never mix.
    """
    target = get_target(target_key, extra_files=extra_files)
    attrs = {}
    _flatten("t", target, attrs)
    attrs = {k[2:]: v for k, v in attrs.items()}
    attrs["level_ratio"] = resolve_level_ratio(target, level_ratio)
    attrs["levels_eV"] = np.array([target.g_eV, target.e_eV, target.u_eV], dtype=np.float64)
    attrs["eps_eg_eV"] = float(target.eps_eg_eV)
    return attrs
