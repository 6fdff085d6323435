"""The configuration layer (renp_scan/config.py) and the values it is given by each layer.

Every TOML reader goes through it; its messages name the dotted field; the allowed
values and defaults each live in one place; the JSON Schemas in docs/schemas are
the parsers' own declarations.
"""

from __future__ import annotations

import ast
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from renp_scan.config import (
    REQUIRED,
    Field,
    Section,
    Table,
    as_integer,
    as_number,
    check_format_version,
    load_toml,
    parse_toml,
    read_text,
    require,
)
from renp_scan.cube.layout import DEFAULT_LEVELS, compression_options
from renp_scan.errors import InputError
from renp_scan.model.grids import MERGE_RTOL, merge_grids
from renp_scan.model.neutrinos import neutrino_masses, pair_thresholds_eV
from renp_scan.model.targets import get_target
from renp_scan.model.valence_levels import _parse_levels
from renp_scan.sweep.scanfile import parse_scan, threshold_window_eV

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "renp_scan"
SCAN = ('[scan]\nname = "t"\ntargets = ["Cs"]\nhierarchies = ["NH"]\nnatures = ["majorana"]\n'
        'channels = ["nucleus"]\n[m0]\nvalues_eV = [0.1]\n[omega]\ncount = 10\n'
        'start_fraction = 0.0\nstop_fraction = 1.0\n')


def raises(func, *args, **kwargs) -> InputError:
    with pytest.raises(InputError) as err:
        func(*args, **kwargs)
    return err.value


# ---------------------------------------------------------------- one reader


def test_only_the_config_layer_decodes_toml():
    # Any other module importing tomllib/tomli would be a second TOML reader.
    readers = []
    for path in sorted(PKG.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(n.split(".")[0] in ("tomllib", "tomli") for n in names):
                readers.append(path.relative_to(PKG).as_posix())
    assert sorted(set(readers)) == ["config.py"]


def test_read_text_is_byte_exact_and_checks_the_file(tmp_path):
    crlf = tmp_path / "crlf.toml"
    crlf.write_bytes(b'a = 1\r\nb = "\xc3\xa9"\r\n')
    assert read_text(crlf, "f").encode("utf-8") == crlf.read_bytes()
    err = raises(read_text, tmp_path / "nope.toml", "plan", "plan file")
    assert (err.field, "no such file" in err.message) == ("plan", True)
    err = raises(read_text, tmp_path, "path", "scan file")
    assert err.field == "path" and "not a regular file" in err.message
    latin = tmp_path / "latin.toml"
    latin.write_bytes("x = 'caf\xe9'\n".encode("latin-1"))
    err = raises(read_text, latin, "counts", "counts file")
    assert err.field == "counts" and "not UTF-8 (byte 8)" in err.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_read_text_refuses_a_fifo_instead_of_blocking(tmp_path):
    fifo = tmp_path / "pipe.toml"
    os.mkfifo(fifo)
    err = raises(read_text, fifo, "path", "scan file")
    assert "not a regular file" in err.message


def test_toml_syntax_error_names_source_line_and_column(tmp_path):
    err = raises(parse_toml, "a = 1\nb = [1,\n[t]\n", "toml", "x.toml")
    assert err.field == "toml"
    assert err.message.startswith("x.toml: malformed TOML") and "line" in err.message
    bad = tmp_path / "bad.toml"
    bad.write_text("[t\n", encoding="utf-8")
    assert raises(load_toml, bad, "targets_file").field == "targets_file"


def test_format_version():
    check_format_version({"format_version": 1}, 1, "f.toml")
    assert "missing in f.toml" in raises(check_format_version, {}, 1, "f.toml").message
    for bad in (2, True, "1"):
        assert raises(check_format_version, {"format_version": bad}, 1, "f").field \
            == "format_version"


# ---------------------------------------------------------------- values and tables


@pytest.mark.parametrize("value, message", [
    (True, "must be a number"), ("1", "must be a number"), (math.inf, "must be finite"),
    (math.nan, "must be finite"), (-1.0, "must be >= 0 eV"), (20.0, "must be <= 10.0 eV"),
])
def test_as_number_rejects_with_units_and_hint(value, message):
    err = raises(as_number, "m0.values_eV[2]", value, nonnegative=True, maximum=10.0,
                 unit="eV", hint="values are in eV, not meV")
    assert err.field == "m0.values_eV[2]" and message in err.message
    if value == 20.0:
        assert err.message.endswith("(values are in eV, not meV)")


def test_as_integer_wants_toml_integers():
    assert as_integer("n", 3, 1, 5) == 3
    for bad in (3.0, True, "3"):
        assert "must be an integer" in raises(as_integer, "n", bad).message
    assert "must be <= 5" in raises(as_integer, "n", 6, 1, 5).message


def test_table_unknown_key_suggests_and_names_dotted_field():
    err = raises(Table, {"cuont": 3}, "omega.Cs", ("count", "spacing"))
    assert err.field == "omega.Cs.cuont"
    assert "did you mean 'count'" in err.message and "allowed keys: count, spacing" in err.message
    assert raises(Table, [1], "exposure", ()).message == "must be a table, got array"


def test_table_typed_access():
    t = Table({"n": 2, "x": 1, "s": "a", "b": False, "xs": [1, 2.5], "ss": ["p", "q"]}, "t",
              ("n", "x", "s", "b", "xs", "ss", "absent"))
    assert t.integer("n") == 2 and t.number("x") == 1.0 and type(t.number("x")) is float
    assert t.string("s", choices=("a",)) == "a" and t.boolean("b") is False
    assert t.numbers("xs") == (1.0, 2.5) and t.strings("ss", ("p", "q")) == ("p", "q")
    assert t.number("absent", None) is None and t.number("absent", 4) == 4.0
    assert raises(t.number, "absent").message == "required key is missing"
    assert raises(t.string, "s", choices=("b",)).field == "t.s"
    assert "duplicate entry" in raises(Table({"d": ["p", "p"]}, "", ("d",)).strings,
                                       "d", ("p",)).message
    with pytest.raises(InputError, match="missing field"):
        Table({}, "t", ("k",), missing="missing field").get("k")
    with pytest.raises(InputError) as err:
        require({"a": 1, "b": None}, "m0", "a", "b")
    assert err.value.field == "m0.b"


def test_section_reads_declared_fields_with_defaults_and_indexed_tables():
    item = Section({"count": Field("integer", minimum=1), "step_eV": Field("number", 1e-3)})
    doc = Section({
        "name": Field("string"),
        "mode": Field("string", "fixed", choices=("fixed", "free")),
        "rows": Field("tables", (), section=item),
        "opt": Field("table", {}, section=Section({"k": Field("boolean", True)})),
    })
    values = doc.read({"name": "p", "rows": [{"count": 2}, {"count": 1, "step_eV": 2}]}, "")
    assert values == {"name": "p", "mode": "fixed", "opt": {"k": True},
                      "rows": ({"count": 2, "step_eV": 1e-3}, {"count": 1, "step_eV": 2.0})}
    err = raises(doc.read, {"name": "p", "rows": [{"count": 1}, {"count": 0}]}, "")
    assert err.field == "rows[1].count"
    err = raises(doc.read, {"name": "p", "opt": {"kk": 1}}, "")
    assert err.field == "opt.kk" and "did you mean 'k'" in err.message
    # Allowed values known only at run time (a user's targets file).
    names = Section({"targets": Field("strings")})
    assert names.read({"targets": ["A"]}, "scan", choices={"targets": ("A", "B")}) \
        == {"targets": ("A",)}
    assert "allowed values: B" in raises(names.read, {"targets": ["A"]}, "scan",
                                         choices={"targets": ("B",)}).message


def test_section_json_schema():
    section = Section({
        "mode": Field("string", "fixed", choices=("fixed", "free")),
        "t_s": Field("number", positive=True),
        "xs": Field("numbers", None, nonnegative=True, maximum=10.0),
    }, subtables=Section({"count": Field("integer", REQUIRED, minimum=1)}))
    schema = section.json_schema()
    assert schema["required"] == ["t_s"]
    assert schema["properties"]["mode"] == {"type": "string", "enum": ["fixed", "free"],
                                            "default": "fixed"}
    assert schema["properties"]["t_s"]["exclusiveMinimum"] == 0
    assert schema["properties"]["xs"]["items"] == {"type": "number", "minimum": 0,
                                                   "maximum": 10.0}
    assert schema["additionalProperties"]["required"] == ["count"]


def test_committed_json_schemas_are_current():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import json_schema
    finally:
        sys.path.pop(0)
    for name, section in json_schema.SCHEMAS.items():
        assert (ROOT / "docs" / "schemas" / name).read_text(encoding="utf-8") \
            == json_schema.render(section), f"run scripts/json_schema.py ({name} is stale)"


@pytest.mark.parametrize("kind, folder", [("scan", "scans"), ("scan", "plans/scans"),
                                          ("plan", "plans")])
def test_shipped_files_use_only_schema_keys(kind, folder):
    from renp_scan.config import parse_toml as decode

    schema = json.loads((ROOT / "docs" / "schemas" / f"{kind}.schema.json").read_text())

    def check(value, node, where):
        if isinstance(value, dict):
            assert node.get("type") == "object", where
            for key, item in value.items():
                sub = node["properties"].get(key, node.get("additionalProperties"))
                assert isinstance(sub, dict), f"{where}.{key} is not in the schema"
                check(item, sub, f"{where}.{key}")
        elif isinstance(value, list) and node.get("type") == "array":
            for i, item in enumerate(value):
                check(item, node.get("items", {}), f"{where}[{i}]")
        if "enum" in node:
            assert value in node["enum"], where

    files = sorted((ROOT / folder).glob("*.toml"))
    assert files
    for path in files:
        check(decode(path.read_text(encoding="utf-8"), "toml"), schema, path.name)


# ---------------------------------------------------------------- values owned once


def test_one_gzip_default_for_scans_and_cubes():
    # The scan default is the cube layer's value; create_partial(level=None) uses the same.
    assert DEFAULT_LEVELS["gzip"] == 1
    assert parse_scan(SCAN).compression_level == DEFAULT_LEVELS["gzip"]
    assert compression_options("gzip", None, True)["compression_opts"] == 1
    assert parse_scan(SCAN + '[output]\ncompression = "lzf"\n').compression_level is None


def test_scan_and_plan_share_the_allowed_values():
    from renp_scan.analysis import plan
    from renp_scan.model import channels, neutrinos
    from renp_scan.sweep import scanfile

    scan_fields = scanfile.SCAN_FILE.fields["scan"].section.fields
    assert scan_fields["channels"].choices is channels.CHANNELS
    assert scan_fields["hierarchies"].choices is neutrinos.HIERARCHIES
    plan_fields = plan.PLAN_FILE.fields["plan"].section.fields
    assert plan_fields["channel"].choices is channels.CHANNELS
    assert scanfile.MERGE_RTOL is plan.MERGE_RTOL is MERGE_RTOL


# ---------------------------------------------------------------- thresholds and grids


def test_pair_thresholds_match_eq_20():
    eps = 1.38
    m0 = [0.0, 0.05, 0.3]
    got = pair_thresholds_eV(eps, m0, ("NH", "IH"))
    assert got.shape == (2, 3, 3, 3)
    for h, hierarchy in enumerate(("NH", "IH")):
        for k, m in enumerate(m0):
            masses = neutrino_masses(m, hierarchy)
            for i in range(3):
                for j in range(3):
                    # omega_ij = eps/2 - (m_i + m_j)^2 / (2 eps), eq. 20
                    want = eps / 2 - (masses[i] + masses[j]) ** 2 / (2 * eps)
                    assert got[h, k, i, j] == pytest.approx(want, rel=1e-15, abs=1e-18)


def test_threshold_window_and_closed_spectrum():
    eps = 1.38
    window = threshold_window_eV(eps, [0.0, 0.1], ("NH",))
    formula = [eps / 2 - (a + b) ** 2 / (2 * eps)
               for m in (0.0, 0.1) for a in neutrino_masses(m, "NH")
               for b in neutrino_masses(m, "NH")]
    assert window == pytest.approx((min(formula), max(formula)), rel=1e-15)
    assert threshold_window_eV(0.1, [0.2], ("NH", "IH")) is None  # 2 m0 > eps: all closed


def test_plan_threshold_rule_points_sit_below_each_threshold():
    from renp_scan.analysis.plan import parse_plan

    text = ('[plan]\nname = "t"\ntarget = "Cs"\n[frequencies]\n[[frequencies.below_thresholds]]\n'
            'count = 2\nstep_eV = 1e-4\nhierarchies = ["NH"]\nm0_eV = [0.1]\n'
            '[exposure]\ntime_per_point_s = 1.0\n')
    plan = parse_plan(text).resolve()
    masses = neutrino_masses(0.1, "NH")
    eps = get_target("Cs").eps_eg_eV
    thresholds = sorted({eps / 2 - (a + b) ** 2 / (2 * eps) for a in masses for b in masses})
    want = np.sort([t - k * 1e-4 for t in thresholds for k in (1, 2)])
    merged = merge_grids([want], MERGE_RTOL * eps)
    np.testing.assert_allclose(plan.omega_eV, merged, rtol=0, atol=1e-14)


def test_merge_grids_keeps_the_lowest_point_even_at_zero():
    # One handling of the ends for scans and plans: the smallest point is kept, zero or not,
    # and every later point within atol of the last kept one is dropped.
    np.testing.assert_array_equal(merge_grids([[0.0, 0.5e-12, 2e-12, 1.0]], 1e-12),
                                  [0.0, 2e-12, 1.0])
    np.testing.assert_array_equal(merge_grids([[1.0, 1.0 + 0.6e-12], [1.0 + 1.2e-12]], 1e-12),
                                  [1.0, 1.0 + 1.2e-12])
    assert merge_grids([np.array([])], 1e-12).size == 0


# ---------------------------------------------------------------- data files


def test_valence_levels_file_errors_name_the_field():
    level = {"label": "6s", "n": 6, "l": 0, "j": 0.5, "energy_eV": 0.0}
    element = {"Z": 55, "ionization_limit_eV": 3.9, "source": "s", "levels": [level]}
    parsed = _parse_levels({"format_version": 1, "elements": {"Cs": element}}, "f")
    assert parsed["Cs"].levels[0].ell == 0 and parsed["Cs"].core_polarizability_bohr3 is None
    bad = {**element, "levels": [{**level, "n": 6.0}]}
    err = raises(_parse_levels, {"format_version": 1, "elements": {"Cs": bad}}, "f")
    assert err.field == "elements.Cs.levels[0].n"
    err = raises(_parse_levels, {"format_version": 1, "elements": {"Cs": {"Z": 55}}}, "f")
    assert err.field == "elements.Cs.ionization_limit_eV" and err.message == "missing field"
    assert raises(_parse_levels, {"format_version": 2, "elements": {}}, "f").field \
        == "format_version"
