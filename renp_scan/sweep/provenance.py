"""What a cube records about the physics it was computed with (root and target attributes).

A resume and a rerun compare these with the file's own (see
:func:`renp_scan.cube.writer.open_partial`), so blocks computed from other data never mix.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..model import constants
from ..model.physics import Physics, flatten_attributes
from ..model.targets import Target


def physics_provenance(spec) -> dict:
    """Root attributes: scan text and digest, run parameters, constants, oscillation data."""
    attrs = {
        "scan_name": spec.name,
        "scan_description": spec.description,
        "scan_path": str(spec.path) if spec.path else "",
        "scan_text": spec.text,
        "scan_sha256": spec.sha256,
        **spec.physics.attributes(),
    }
    for name in dir(constants):
        value = getattr(constants, name)
        if name.isupper() and isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[f"constant_{name}"] = float(value)
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


def target_attributes(target: Target, physics: Physics) -> dict:
    """Group attributes of a target: Z, N, isotope, eps_eg_eV, levels_eV, A_ug_per_s, level_ratio.

    ``physics`` adds what the scan's settings decide for the target (the form of the
    level ratio, compared on resume, so blocks of two forms never mix).
    """
    attrs = {}
    flatten_attributes("t", target, attrs)
    attrs = {k[2:]: v for k, v in attrs.items()}
    attrs.update(physics.target_attributes(target))
    attrs["levels_eV"] = np.array([target.g_eV, target.e_eV, target.u_eV], dtype=np.float64)
    attrs["eps_eg_eV"] = float(target.eps_eg_eV)
    return attrs
