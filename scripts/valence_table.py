#!/usr/bin/env python
"""Regenerate the tables of ``docs/valence_coulomb.md`` from the valence model.

Run from the repository root::

    python scripts/valence_table.py            # rewrite the tables in the doc
    python scripts/valence_table.py --check    # exit 1 if the committed tables are stale

Each table sits between ``<!-- valence_table:NAME:begin -->`` and
``<!-- valence_table:NAME:end -->`` markers; text outside the markers is left alone.

* ``energies``: computed orbital energies against the measured binding energies of
  ``renp_scan/data/valence_levels.toml``;
* ``ratios``: TF Coulomb integrals J_N(Z), J_C(Z) over the valence-model matrix
  elements, for every target of ``renp_scan/data/targets.toml``
  (``tests/test_valence.py`` checks that this one is current);
* ``diagonal``: diagonal Z alpha <1/r> of the same orbitals, for scale;
* ``sensitivity``: how the alkali results move under the model's freedoms (b(Z - 1)
  instead of b(Z), a core size fitted to the measured e level, core polarisation).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from scipy.optimize import brentq

from renp_scan.model import valence, valence_levels
from renp_scan.model.coulomb import coulomb_integrals
from renp_scan.model.targets import load_targets

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "valence_coulomb.md"
TABLES = ("energies", "ratios", "diagonal", "sensitivity")

#: Orbitals compared with measured levels, per element (the task's list).
ENERGY_ORBITALS = {
    "Cs": [(6, 0), (6, 1), (7, 1)],
    "Rb": [(5, 0), (5, 1), (6, 1)],
    "K": [(4, 0), (4, 1), (5, 1)],
    "Xe": [(6, 0), (7, 0)],
}
#: Cut-off radius of the polarisation term in the sensitivity table [bohr]; a typical
#: core radius (the paper and Neuffer & Commins give none to copy).
POLARIZATION_CUTOFF_BOHR = 2.0
#: One target per element for the sensitivity table.
SENSITIVITY_TARGETS = ("Cs", "Rb87", "K39")

_L = "spdfghik"


def _orbital(n, ell):
    return f"{n}{_L[ell]}"


def _symbol(target):
    return re.sub(r"^\d+", "", target.isotope)


def _energy_orbitals():
    """Yield (element, Z, n, ell) for every orbital of :data:`ENERGY_ORBITALS`."""
    levels = valence_levels.load_valence_levels()
    for symbol, orbitals in ENERGY_ORBITALS.items():
        for n, ell in orbitals:
            yield symbol, levels[symbol].Z, n, ell


def render_energies() -> str:
    """Markdown table: model energies against measured ones (eV)."""
    rows = [
        "| element | orbital | model E [eV] | measured E [eV] | model - measured [eV] | relative |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for symbol, Z, n, ell in _energy_orbitals():
        model = valence.valence_state(Z, n, ell).energy_eV
        measured = -valence_levels.measured_binding_eV(symbol, n, ell)
        rows.append(
            f"| {symbol} | {_orbital(n, ell)} | {model:.3f} | {measured:.3f} | "
            f"{model - measured:+.3f} | {model / measured - 1:+.1%} |"
        )
    return "\n".join(rows)


def render_ratios() -> str:
    """Markdown table: TF integrals, valence matrix elements and their ratios."""
    ci = coulomb_integrals()
    rows = [
        "| target | Z | scheme | <u\\|.\\|e> | J_N TF [eV] | Z alpha <u\\|1/r\\|e> [eV] | "
        "J_N ratio TF/val | J_C TF [eV] | <u\\|alpha V_H\\|e> [eV] | J_C ratio TF/val |",
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, target in load_targets().items():
        (n_e, l_e) = valence.valence_quantum_numbers(target.e_label)
        (n_u, l_u) = valence.valence_quantum_numbers(target.u_label)
        jn_tf = ci.J_N_eV(target.Z)
        jc_tf = ci.J_C_eV(target.Z)
        jn_val = valence.valence_coulomb_eV(target, "nucleus")
        jc_val = valence.valence_coulomb_eV(target, "core")
        rows.append(
            f"| {name} | {target.Z} | {target.scheme} | {_orbital(n_u, l_u)}, "
            f"{_orbital(n_e, l_e)} | {jn_tf:.1f} | {jn_val:.3f} | {jn_tf / jn_val:.4g} | "
            f"{jc_tf:.1f} | {jc_val:.3f} | {jc_tf / jc_val:.4g} |"
        )
    return "\n".join(rows)


def render_diagonal() -> str:
    """Markdown table: diagonal Z alpha <1/r> of each element's orbitals against J_N(TF)."""
    ci = coulomb_integrals()
    rows = [
        "| element | orbital | Z alpha <1/r> [eV] | J_N TF / Z alpha <1/r> |",
        "|---|---|---:|---:|",
    ]
    for symbol, Z, n, ell in _energy_orbitals():
        state = valence.valence_state(Z, n, ell)
        diagonal = valence.nucleus_matrix_element_eV(state, state)
        ratio = ci.J_N_eV(Z) / diagonal
        rows.append(f"| {symbol} | {_orbital(n, ell)} | {diagonal:.2f} | {ratio:.4g} |")
    return "\n".join(rows)


def fit_core_scale(Z, n, ell, binding_eV, **potential):
    """Factor lambda on b for which orbital n, ell has the measured binding energy."""

    def miss(scale):
        return (
            valence.valence_state(Z, n, ell, core_scale=scale, **potential).energy_eV + binding_eV
        )

    return brentq(miss, 0.5, 1.5, xtol=1e-10)


def _variant_row(label, target, **potential):
    ci = coulomb_integrals()
    (n_e, l_e) = valence.valence_quantum_numbers(target.e_label)
    (n_u, l_u) = valence.valence_quantum_numbers(target.u_label)
    e = valence.valence_state(target.Z, n_e, l_e, **potential)
    u = valence.valence_state(target.Z, n_u, l_u, **potential)
    jn = valence.nucleus_matrix_element_eV(u, e)
    jc = valence.core_matrix_element_eV(u, e)
    return (
        f"| {target.name} | {label} | {e.energy_eV:.3f} | {u.energy_eV:.3f} | {jn:.3f} | "
        f"{ci.J_N_eV(target.Z) / jn:.4g} | {jc:.3f} | {ci.J_C_eV(target.Z) / jc:.4g} |"
    )


def render_sensitivity() -> str:
    """Markdown table: the alkali results under the model's freedoms."""
    rows = [
        "| target | potential | E(e) [eV] | E(u) [eV] | Z alpha <u\\|1/r\\|e> [eV] | "
        "J_N ratio | <u\\|alpha V_H\\|e> [eV] | J_C ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    targets = load_targets()
    levels = valence_levels.load_valence_levels()
    for name in SENSITIVITY_TARGETS:
        target = targets[name]
        symbol = _symbol(target)
        (n_e, l_e) = valence.valence_quantum_numbers(target.e_label)
        (n_u, l_u) = valence.valence_quantum_numbers(target.u_label)
        measured = (
            -valence_levels.measured_binding_eV(symbol, n_e, l_e),
            -valence_levels.measured_binding_eV(symbol, n_u, l_u),
        )
        rows.append(
            f"| {name} | measured (j-centroid) | {measured[0]:.3f} | {measured[1]:.3f} | | | | |"
        )
        rows.append(_variant_row("paper: TF core, b(Z)", target))
        rows.append(_variant_row("b(Z - 1)", target, b_charge=float(target.Z - 1)))
        scale = fit_core_scale(target.Z, n_e, l_e, -measured[0])
        rows.append(_variant_row(f"b(Z) x {scale:.4f} (fits E(e))", target, core_scale=scale))
        alpha_d = levels[symbol].core_polarizability_bohr3
        pol = dict(polarizability_bohr3=alpha_d, polarization_cutoff_bohr=POLARIZATION_CUTOFF_BOHR)
        rows.append(
            _variant_row(
                f"+ polarisation ({alpha_d:g} bohr^3, r_c = {POLARIZATION_CUTOFF_BOHR:g})",
                target,
                **pol,
            )
        )
        scale_pol = fit_core_scale(target.Z, n_e, l_e, -measured[0], **pol)
        rows.append(
            _variant_row(
                f"+ polarisation, b x {scale_pol:.4f} (fits E(e))",
                target,
                core_scale=scale_pol,
                **pol,
            )
        )
    return "\n".join(rows)


RENDERERS = {
    "energies": render_energies,
    "ratios": render_ratios,
    "diagonal": render_diagonal,
    "sensitivity": render_sensitivity,
}


def block_pattern(name):
    """Regex matching the marked block NAME (group 1: its content)."""
    return re.compile(
        rf"(<!-- valence_table:{name}:begin -->\n)(.*?)(\n<!-- valence_table:{name}:end -->)",
        re.DOTALL,
    )


def committed_block(name, text=None) -> str:
    """The table NAME as committed in the doc."""
    text = DOC.read_text(encoding="utf-8") if text is None else text
    match = block_pattern(name).search(text)
    if match is None:
        raise SystemExit(f"{DOC}: no markers for table {name!r}")
    return match.group(2)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    stale = []
    for name in TABLES:
        fresh = RENDERERS[name]()
        if committed_block(name, text) != fresh:
            stale.append(name)
            text = block_pattern(name).sub(lambda m, f=fresh: m.group(1) + f + m.group(3), text)
    if args.check:
        if stale:
            print(f"stale tables in {DOC}: {', '.join(stale)}")
            return 1
        print("tables are current")
        return 0
    DOC.write_text(text, encoding="utf-8")
    print(f"updated {', '.join(stale) or 'nothing'} in {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
