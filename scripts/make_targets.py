#!/usr/bin/env python
"""Generate ``renp_scan/data/targets.toml`` from libraries plus a cited literature table.

Run from the repository root::

    python scripts/make_targets.py            # rewrite renp_scan/data/targets.toml
    python scripts/make_targets.py --check    # exit 1 if the committed file is stale
    python scripts/make_targets.py -o out.toml

Needs the ``atomic`` extra (``pip install arc-alkali-rydberg-calculator periodictable``).
It is a build-time tool only: the package reads the TOML file and never imports ARC.

Where the numbers come from
---------------------------
* ``LITERATURE``: the two targets of Yoshimura & Sasao, arXiv:1310.6472, Sec. III,
  typed from the paper text (Cs: Fig. 4/5 caption text, Xe: text before eq. 23).
  They stay exactly the paper's numbers; ARC's values for Cs are stored beside
  them under ``info`` for comparison.
* ``XE_ISOTOPES``: other stable Xe isotopes with the paper's Xe levels and
  A-coefficient (isotope shifts are ~1e-5 eV, below the paper's 1 meV precision).
* ``ARC_ALKALIS``: level energies from ARC ``getEnergy`` (NIST ASD level data) and
  A-coefficients from ARC ``getTransitionRate`` (literature dipole matrix elements;
  the reference ARC used is recorded per target).
* Z, N, natural abundance and atomic mass of every isotope from ``periodictable``.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "renp_scan" / "data" / "targets.toml"

PAPER = "Yoshimura & Sasao, arXiv:1310.6472, Sec. III"

#: The paper's two targets, exactly as printed. Energies in eV relative to g, A in s^-1.
LITERATURE = {
    "Cs": {
        "scheme": "alkali",
        "element": "Cs",
        "A": 133,
        "g_label": "6s 2S1/2",
        "g_eV": 0.0,
        "e_label": "6p 2P1/2",
        "e_eV": 1.3859,
        "u_label": "7p 2P1/2",
        "u_eV": 2.6986,
        "A_ug_per_s": 7.93e5,
        "source": f"{PAPER} (levels and A(7P1/2->6S1/2) quoted there from NIST ASD)",
        # The paper's Cs is an ARC alkali too: record ARC's numbers beside the paper's.
        "arc": ("Caesium", 6),
    },
    "Xe": {
        "scheme": "electron_hole",
        "element": "Xe",
        "A": 131,
        "g_label": "5p6 1S0",
        "g_eV": 0.0,
        "e_label": "5p5 6s 3P1",
        "e_eV": 8.437,
        "u_label": "5p5 7s 3P1",
        "u_eV": 10.593,
        "A_ug_per_s": 8.51e7,
        "source": f"{PAPER} (6s 3P1 at 8.437 eV, 7s 3P1 at 10.593 eV, gamma_7s5p = 8.51e7 s^-1)",
    },
}

#: Stable Xe isotopes that get the paper's Xe levels (key, mass number).
XE_ISOTOPES = (("Xe129", 129), ("Xe132", 132), ("Xe134", 134), ("Xe136", 136))

#: Alkalis taken whole from ARC: (key, ARC class name, element, mass number, n of ground ns).
ARC_ALKALIS = (
    ("Rb85", "Rubidium85", "Rb", 85, 5),
    ("Rb87", "Rubidium87", "Rb", 87, 5),
    ("K39", "Potassium39", "K", 39, 4),
)

_L_LETTER = "spdf"


def _round_eV(value):
    # 1e-9 eV is far below any level's uncertainty and hides float noise of differences.
    return round(float(value), 9)


def _round_sig(value, digits=6):
    # Literature dipole matrix elements behind ARC rates are good to ~0.1 %.
    return float(f"{float(value):.{digits - 1}e}")


def _isotope_info(element, mass_number):
    import periodictable

    el = periodictable.elements.symbol(element)
    iso = el[mass_number]
    return {
        "Z": int(el.number),
        "N": int(mass_number - el.number),
        "abundance_percent": _round_sig(iso.abundance),
        "mass_u": float(iso.mass),
    }


def _arc_levels(arc_class, n):
    """ARC energies (relative to ns), rate (n+1)p1/2 -> ns and the DME reference."""
    import arc

    atom = getattr(arc, arc_class)()
    e_g = atom.getEnergy(n, 0, 0.5)
    e_e = atom.getEnergy(n, 1, 0.5) - e_g
    e_u = atom.getEnergy(n + 1, 1, 0.5) - e_g
    rate = atom.getTransitionRate(n + 1, 1, 0.5, n, 0, 0.5)
    found, _, ref = atom.getLiteratureDME(n, 0, 0.5, n + 1, 1, 0.5)
    # ARC's DOI column has typos (60.4477 for PRA 60, 4476), so cite journal and table only.
    dme_ref = f"{ref[3]}, {ref[2]}" if found else "ARC model-potential wavefunctions"
    return _round_eV(e_e), _round_eV(e_u), _round_sig(rate), dme_ref


def _arc_version():
    from importlib.metadata import version

    return version("arc-alkali-rydberg-calculator")


def _level_ratio_entry(scheme):
    # Electron-hole targets state their level-ratio form: eq. 19's pattern, not the
    # inverted ratio eq. 23 prints (docs/physics.md); alkalis have eq. 19 only.
    return {"level_ratio": "eq19"} if scheme == "electron_hole" else {}


def build_targets():
    """All target tables in file order: the paper's first, then derived ones."""
    import periodictable

    arc_version = _arc_version()
    pt_version = periodictable.__version__
    targets = {}

    for key, lit in LITERATURE.items():
        iso = _isotope_info(lit["element"], lit["A"])
        entry = {
            "scheme": lit["scheme"],
            "isotope": f"{lit['A']}{lit['element']}",
            "Z": iso["Z"],
            "N": iso["N"],
            **{k: lit[k] for k in ("g_label", "g_eV", "e_label", "e_eV", "u_label", "u_eV")},
            "A_ug_per_s": lit["A_ug_per_s"],
            **_level_ratio_entry(lit["scheme"]),
            "source": lit["source"] + f"; Z, N from periodictable {pt_version}",
        }
        info = {"abundance_percent": iso["abundance_percent"], "mass_u": iso["mass_u"]}
        if "arc" in lit:
            e_eV, u_eV, rate, dme_ref = _arc_levels(*lit["arc"])
            info.update(
                {
                    "e_eV_arc": e_eV,
                    "u_eV_arc": u_eV,
                    "A_ug_per_s_arc": rate,
                    "arc_version": arc_version,
                    "arc_dme_reference": dme_ref,
                }
            )
        entry["info"] = info
        targets[key] = entry

    xe = LITERATURE["Xe"]
    for key, mass_number in XE_ISOTOPES:
        iso = _isotope_info("Xe", mass_number)
        targets[key] = {
            "scheme": xe["scheme"],
            "isotope": f"{mass_number}Xe",
            "Z": iso["Z"],
            "N": iso["N"],
            **{k: xe[k] for k in ("g_label", "g_eV", "e_label", "e_eV", "u_label", "u_eV")},
            "A_ug_per_s": xe["A_ug_per_s"],
            **_level_ratio_entry(xe["scheme"]),
            "source": (
                f"levels and A as the paper's 131Xe ({PAPER}; isotope shifts ~1e-5 eV neglected); "
                f"Z, N from periodictable {pt_version}"
            ),
            "info": {"abundance_percent": iso["abundance_percent"], "mass_u": iso["mass_u"]},
        }

    for key, arc_class, element, mass_number, n in ARC_ALKALIS:
        iso = _isotope_info(element, mass_number)
        e_eV, u_eV, rate, dme_ref = _arc_levels(arc_class, n)
        targets[key] = {
            "scheme": "alkali",
            "isotope": f"{mass_number}{element}",
            "Z": iso["Z"],
            "N": iso["N"],
            "g_label": f"{n}s 2S1/2",
            "g_eV": 0.0,
            "e_label": f"{n}p 2P1/2",
            "e_eV": e_eV,
            "u_label": f"{n + 1}p 2P1/2",
            "u_eV": u_eV,
            "A_ug_per_s": rate,
            "source": (
                f"ARC {arc_version} {arc_class}: getEnergy (NIST ASD level data) and "
                f"getTransitionRate (dipole matrix element from {dme_ref}); "
                f"Z, N from periodictable {pt_version}"
            ),
            "info": {
                "abundance_percent": iso["abundance_percent"],
                "mass_u": iso["mass_u"],
                "arc_class": arc_class,
                "arc_ground_n": n,
                "arc_version": arc_version,
            },
        }
    return targets


def _shortest_scientific(value):
    # "7.93e5" reads better than "793000.0" and round-trips exactly.
    for digits in range(17):
        text = f"{value:.{digits}e}"
        if float(text) == value:
            mantissa, exponent = text.split("e")
            return f"{mantissa}e{int(exponent)}"
    return repr(value)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"non-finite value {value!r}")
        if value != 0.0 and not 1e-3 <= abs(value) < 1e5:
            return _shortest_scientific(value)
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def render_toml(targets):
    """The text of targets.toml for ``targets`` (a dict as built by :func:`build_targets`)."""
    lines = [
        "# RENP targets: three levels g (final), e (initial), u (intermediate, E1 u -> g).",
        "# Energies in eV relative to g, A_ug_per_s = Einstein A of u -> g in s^-1.",
        "# GENERATED by scripts/make_targets.py -- edit that script, not this file.",
        "# Sources of every number: renp_scan/data/README.md and each target's `source`.",
        "# `info` tables are informational only (never used in rates).",
        "",
        "format_version = 1",
    ]
    for key, entry in targets.items():
        lines += ["", f"[targets.{key}]"]
        for field, value in entry.items():
            if field != "info":
                lines.append(f"{field} = {_toml_value(value)}")
        if entry.get("info"):
            lines += ["", f"[targets.{key}.info]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in entry["info"].items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check", action="store_true", help="compare with --output instead of writing it"
    )
    args = parser.parse_args(argv)

    text = render_toml(build_targets())
    tomllib.loads(text)  # never write a file the package cannot read
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is stale: rerun scripts/make_targets.py", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
