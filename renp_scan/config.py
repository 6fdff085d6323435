"""Configuration files: one reader and one typed-table layer for every TOML input.

Every file the package reads (scan files, plan files, targets, oscillation data,
measured valence levels, counts) goes through :func:`read_text` and
:func:`parse_toml`; each parser then declares its tables as :class:`Section`
objects (field name -> :class:`Field`: kind, default, allowed values, bounds)
and reads them with :meth:`Section.read`, or walks them with :class:`Table`.
Every problem is one :class:`~renp_scan.errors.InputError` whose ``field`` is
the dotted key (``"m0.count"``, ``"frequencies.uniform[0].stop_eV"``); an
unknown key comes with a did-you-mean hint. The allowed values and defaults
themselves belong to the layer that uses them (model, cube, sweep, analysis)
and are passed in, never copied here.

A :class:`Section` also states itself as a JSON Schema (:meth:`Section.json_schema`)
for editors.
"""

from __future__ import annotations

import difflib
import math
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 has no tomllib; pyproject pulls in tomli there
    import tomli as tomllib

__all__ = [
    "REQUIRED",
    "Field",
    "Section",
    "Table",
    "as_integer",
    "check_format_version",
    "as_number",
    "load_toml",
    "parse_toml",
    "read_text",
    "reject_unknown",
    "require",
    "type_name",
    "unit_of",
]


class _Required:
    def __repr__(self):
        return "REQUIRED"


#: Default of a field that must be given.
REQUIRED = _Required()

_TYPE_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array",
               dict: "table"}


def type_name(value) -> str:
    """TOML name of a value's type (``"integer"``, ``"table"``, ...), for messages."""
    return _TYPE_NAMES.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- files


def read_text(path, field: str, what: str = "file") -> str:
    """Read a UTF-8 configuration file exactly (no newline translation).

    Parameters
    ----------
    path : str, os.PathLike or importlib.resources Traversable
        The file; package data may be a Traversable.
    field : str
        ``InputError.field`` for problems with the file itself.
    what : str
        What the file is, for messages (``"scan file"``).

    Returns
    -------
    str
        The text, byte for byte (so a digest of ``text.encode()`` is the file's).

    Raises
    ------
    InputError
        If the file is missing, not a regular file (a directory or a FIFO would
        hang or fail obscurely), unreadable or not UTF-8.
    """
    if isinstance(path, (str, os.PathLike)):
        raw = _read_small_file(path, field, what)
    else:
        raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raise InputError(field, f"{what} {str(path)!r} starts with a UTF-8 byte-order mark "
                         "(BOM); save it as UTF-8 without BOM")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(field, f"{what} {str(path)!r} is not UTF-8 (byte {exc.start})") \
            from None


#: Largest configuration file read [bytes]: scan, plan, targets and oscillation files
#: are a few kB of TOML.
MAX_FILE_BYTES = 16 * 2**20


def _read_small_file(path, field: str, what: str) -> bytes:
    """Bytes of a regular file of at most :data:`MAX_FILE_BYTES`; InputError otherwise.

    A FIFO, a device (``/dev/zero``) or a directory is refused from ``stat`` before
    it is opened, so nothing blocks or reads forever.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise InputError(field, f"cannot read {what} {str(path)!r}: no such file") from None
    except OSError as exc:
        raise InputError(field, f"cannot read {what} {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(field, f"cannot read {what} {str(path)!r}: it is a directory, not "
                         "a regular file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(field, f"cannot read {what} {str(path)!r}: not a regular file (a "
                         "FIFO, socket or device); give a TOML file")
    if info.st_size > MAX_FILE_BYTES:
        raise InputError(field, f"{what} {str(path)!r} has {info.st_size} bytes, more than "
                         f"the {MAX_FILE_BYTES // 2**20} MiB a TOML {what} can need")
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(field, f"cannot read {what} {str(path)!r}: "
                         f"{exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(field, f"{what} {str(path)!r} grew past {MAX_FILE_BYTES} bytes")
    return raw


def parse_toml(text: str, field: str, source=None) -> dict:
    """Decode TOML text; a syntax error names ``source`` with the line and column."""
    if not isinstance(text, str):
        raise InputError(field, f"TOML text must be a str, got {type(text).__name__}")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = f"{source}: " if source is not None else ""
        raise InputError(field, f"{where}malformed TOML: {exc}") from None


def load_toml(path, field: str, what: str = "file") -> dict:
    """:func:`read_text` then :func:`parse_toml`; errors carry ``field``."""
    return parse_toml(read_text(path, field, what), field, path)


def check_format_version(document: Mapping, expected: int, source) -> None:
    """Require a data file's ``format_version`` key to equal ``expected``."""
    if "format_version" not in document:
        raise InputError("format_version", f"missing in {source} (expected {expected})")
    version = document["format_version"]
    if isinstance(version, bool) or version != expected:
        raise InputError("format_version", f"{source} has format_version {version!r}; this "
                         f"version reads {expected}")


# --------------------------------------------------------------------------- values


def unit_of(key: str) -> str:
    """Return the unit a key's suffix names (``"m0_eV"`` -> ``"eV"``; "" if none), for messages."""
    return _UNITS.get(key.rsplit("_", 1)[-1], "") if "_" in key else ""


_UNITS = {"eV": "eV", "s": "s", "Hz": "Hz", "rad": "rad", "deg": "deg"}


def as_number(where: str, value, *, positive=False, nonnegative=False, minimum=None,
              maximum=None, unit="", hint="") -> float:
    """Return a finite TOML number (integer or float, not boolean) as float, within bounds.

    ``unit`` is quoted with the bounds, ``hint`` after a bound is missed
    (``"values are in eV, not meV"``).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(where, f"must be a number, got {type_name(value)} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise InputError(where, f"must be finite, got {value!r}")
    if positive and v <= 0.0:
        minimum_text = "> 0"
    elif nonnegative and v < 0.0:
        minimum_text = ">= 0"
    else:
        _check_bounds(where, v, minimum, maximum, unit, hint)
        return v
    raise InputError(where, f"must be {minimum_text}{' ' + unit if unit else ''}, got "
                     f"{value!r}{f' ({hint})' if hint else ''}")


def as_integer(where: str, value, minimum=None, maximum=None) -> int:
    """Return a TOML integer (not a float such as 1e5, not a boolean) within bounds."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(where, f"must be an integer (write 100_000, not 1e5 or 100.0), "
                         f"got {type_name(value)} {value!r}")
    _check_bounds(where, value, minimum, maximum)
    return value


def _check_bounds(where, value, minimum, maximum, unit="", hint=""):
    unit = f" {unit}" if unit else ""
    hint = f" ({hint})" if hint else ""
    if minimum is not None and value < minimum:
        raise InputError(where, f"must be >= {minimum}{unit}, got {value!r}{hint}")
    if maximum is not None and value > maximum:
        raise InputError(where, f"must be <= {maximum:_}{unit}, got {value!r}{hint}")


def require(values: Mapping, prefix: str, *keys) -> None:
    """Raise for the first of ``keys`` whose value in ``values`` is None (not given)."""
    for key in keys:
        if values[key] is None:
            raise InputError(f"{prefix}.{key}" if prefix else key, "required key is missing")


def reject_unknown(data: Mapping, prefix: str, allowed, *, what="unknown key", skip=None):
    """Raise for the first key of ``data`` not in ``allowed`` (with a did-you-mean hint).

    ``skip(key, value)`` may exempt keys (e.g. per-target sub-tables).
    """
    for key, value in data.items():
        if key in allowed or (skip is not None and skip(key, value)):
            continue
        hint = difflib.get_close_matches(key, list(allowed), n=1)
        did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
        raise InputError(f"{prefix}.{key}" if prefix else key,
                         f"{what}{did_you_mean}; allowed keys: {', '.join(allowed)}")


# --------------------------------------------------------------------------- tables


class Table:
    """One TOML table: unknown keys rejected up front, typed values by dotted field name.

    Parameters
    ----------
    data : object
        The decoded table (anything else raises).
    prefix : str
        Dotted name of the table ("" for the document root).
    allowed : sequence of str
        The keys the table may have.
    skip : callable, optional
        ``skip(key, value)`` true exempts a key from the unknown-key check.
    fields : mapping, optional
        Field name per key where a value came from elsewhere (merged tables).
    missing : str
        Message for a required key that is absent.
    """

    def __init__(self, data, prefix: str, allowed, *, skip=None, fields=None,
                 missing="required key is missing"):
        if not isinstance(data, dict):
            raise InputError(prefix or "toml", f"must be a table, got {type_name(data)}")
        self.data, self.prefix, self.fields = data, prefix, dict(fields or {})
        self.missing = missing
        reject_unknown(data, prefix, allowed, skip=skip)

    def field(self, key: str) -> str:
        """Dotted name of ``key``."""
        if key in self.fields:
            return self.fields[key]
        return f"{self.prefix}.{key}" if self.prefix else key

    def has(self, key: str) -> bool:
        """Whether the key is given."""
        return key in self.data

    def get(self, key: str, default=REQUIRED):
        """Return the raw value, or ``default`` (raise if the key is required and missing)."""
        if key in self.data:
            return self.data[key]
        if default is REQUIRED:
            raise InputError(self.field(key), self.missing)
        return default

    def string(self, key, default=REQUIRED, choices=None):
        """Return a string (one of ``choices`` if given); None if absent with default None."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str):
            raise InputError(self.field(key), f"must be a string, got {type_name(value)}")
        if choices is not None and value not in choices:
            raise InputError(self.field(key), f"{value!r} is not allowed; allowed values: "
                             f"{', '.join(choices)}")
        return value

    def boolean(self, key, default=REQUIRED) -> bool:
        """Return ``true`` or ``false``."""
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise InputError(self.field(key), f"must be true or false, got {type_name(value)}")
        return value

    def integer(self, key, default=REQUIRED, minimum=None, maximum=None):
        """Return an integer within bounds; None if absent with default None."""
        value = self.get(key, default)
        return None if value is None else as_integer(self.field(key), value, minimum, maximum)

    def number(self, key, default=REQUIRED, **bounds):
        """Return a finite number as float (bounds as :func:`as_number`), or None if absent."""
        value = self.get(key, default)
        bounds.setdefault("unit", unit_of(key))
        return None if value is None else as_number(self.field(key), value, **bounds)

    def numbers(self, key, default=REQUIRED, *, empty=False, **bounds):
        """Return an array of finite numbers as a tuple of float (non-empty unless ``empty``)."""
        value = self.get(key, default)
        if value is None:
            return None
        if not isinstance(value, list):
            raise InputError(self.field(key), f"must be an array of numbers, got "
                             f"{type_name(value)}")
        if not value and not empty:
            raise InputError(self.field(key), "must not be empty")
        bounds.setdefault("unit", unit_of(key))
        return tuple(as_number(f"{self.field(key)}[{i}]", v, **bounds)
                     for i, v in enumerate(value))

    def strings(self, key, choices, default=REQUIRED) -> tuple[str, ...]:
        """Return a non-empty array of distinct strings from ``choices`` (file order)."""
        where = self.field(key)
        value = self.get(key, default)
        value = list(value) if isinstance(value, tuple) else value  # a declared default
        if not isinstance(value, list):
            raise InputError(where, f"must be an array of strings, got {type_name(value)}")
        if not value:
            raise InputError(where, f"must not be empty; allowed values: {', '.join(choices)}")
        seen = []
        for item in value:
            if not isinstance(item, str):
                raise InputError(where, f"must be an array of strings, found "
                                 f"{type_name(item)} {item!r}")
            if item not in choices:
                raise InputError(where, f"{item!r} is not allowed; allowed values: "
                                 f"{', '.join(choices)}")
            if item in seen:
                raise InputError(where, f"duplicate entry {item!r}")
            seen.append(item)
        return tuple(seen)

    def tables(self, key) -> list:
        """Return an array of tables (``[[prefix.key]]``); empty if absent."""
        value = self.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise InputError(self.field(key), f"must be an array of tables "
                             f"([[{self.field(key)}]]), got {type_name(value)}")
        return value


# --------------------------------------------------------------------------- declarations


@dataclass(frozen=True)
class Field:
    """Declaration of one key: its kind, default and allowed values.

    Attributes
    ----------
    kind : str
        ``"string"``, ``"boolean"``, ``"integer"``, ``"number"``, ``"numbers"``
        (array of numbers), ``"strings"`` (array of distinct strings from
        ``choices``), ``"table"`` (a table read with ``section``), ``"tables"``
        (array of tables, each read with ``section``) or ``"any"`` (passed
        through; the parser checks it).
    default : object
        Value when the key is absent; :data:`REQUIRED` if it must be given.
    doc : str
        One line for the JSON Schema.
    choices : tuple of str, optional
        Allowed values (``"string"``, ``"strings"``).
    minimum, maximum : float, optional
        Inclusive bounds (``"integer"``, ``"number"``).
    positive, nonnegative : bool
        ``> 0`` / ``>= 0`` (``"number"``, ``"numbers"``).
    section : Section, optional
        Schema of a ``"table"`` field or of each element of a ``"tables"`` field.
    hint : str
        Added to the message when a bound is missed (the likely slip).
    """

    kind: str
    default: object = REQUIRED
    doc: str = ""
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    nonnegative: bool = False
    section: Section | None = None
    hint: str = ""

    def read(self, table: Table, key: str, choices=None):
        """Validate ``key`` of ``table`` against this declaration.

        ``choices`` replaces the declared ones where they are known only at run
        time (the targets of a user's targets file).
        """
        choices = self.choices if choices is None else choices
        bounds = {"positive": self.positive, "nonnegative": self.nonnegative, "hint": self.hint}
        if self.kind == "string":
            return table.string(key, self.default, choices)
        if self.kind == "boolean":
            return table.boolean(key, self.default)
        if self.kind == "integer":
            return table.integer(key, self.default, self.minimum, self.maximum)
        if self.kind == "number":
            return table.number(key, self.default, minimum=self.minimum, maximum=self.maximum,
                                **bounds)
        if self.kind == "numbers":
            return table.numbers(key, self.default, minimum=self.minimum, maximum=self.maximum,
                                 **bounds)
        if self.kind == "strings":
            return table.strings(key, choices, self.default)
        if self.kind == "table":
            return self.section.read(table.get(key, self.default), table.field(key))
        if self.kind == "tables":
            return tuple(self.section.read(d, f"{table.field(key)}[{i}]")
                         for i, d in enumerate(table.tables(key)))
        return table.get(key, self.default)

    def json_schema(self) -> dict:
        """Return the field as a JSON Schema fragment."""
        number = {"type": "number"}
        if self.positive:
            number["exclusiveMinimum"] = 0
        if self.nonnegative:
            number["minimum"] = 0
        schema = {
            "string": {"type": "string"},
            "boolean": {"type": "boolean"},
            "integer": {"type": "integer"},
            "number": number,
            "numbers": {"type": "array", "items": number, "minItems": 1},
            "strings": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                        "uniqueItems": True},
            "table": self.section.json_schema() if self.section else {"type": "object"},
            "tables": {"type": "array",
                       "items": self.section.json_schema() if self.section else {}},
        }.get(self.kind, {})
        if self.choices is not None:
            target = schema["items"] if self.kind == "strings" else schema
            target["enum"] = list(self.choices)
        bounded = schema["items"] if self.kind == "numbers" else schema
        if self.minimum is not None:
            bounded["minimum"] = self.minimum
        if self.maximum is not None:
            bounded["maximum"] = self.maximum
        if self.doc:
            schema["description"] = self.doc
        if self.default is not REQUIRED and self.default is not None \
                and self.kind not in ("table", "tables"):
            schema["default"] = list(self.default) if isinstance(self.default, tuple) \
                else self.default
        return schema


@dataclass(frozen=True)
class Section:
    """Declaration of one table: its keys, each a :class:`Field`, in file order.

    ``subtables``, if given, is the schema of further keys that name sub-tables
    of the parser's choosing (``[omega.<target>]``); they are left to the parser.
    ``missing`` is the message for an absent required key.
    """

    fields: Mapping[str, Field]
    doc: str = ""
    subtables: Section | None = None
    missing: str = "required key is missing"

    def table(self, data, prefix: str, **kwargs) -> Table:
        """Return a :class:`Table` over ``data`` accepting exactly this section's keys."""
        kwargs.setdefault("missing", self.missing)
        if self.subtables is not None:
            kwargs.setdefault("skip", lambda key, value: isinstance(value, dict))
        return Table(data, prefix, tuple(self.fields), **kwargs)

    def read(self, data, prefix: str, choices=None) -> dict:
        """Validate every declared field of ``data``; key -> value (defaults filled in).

        ``choices`` maps keys to allowed values known only at run time.
        """
        table = self.table(data, prefix)
        choices = choices or {}
        return {key: spec.read(table, key, choices.get(key))
                for key, spec in self.fields.items()}

    def json_schema(self) -> dict:
        """Return the table as a JSON Schema object (unknown keys not allowed)."""
        schema = {
            "type": "object",
            "properties": {k: f.json_schema() for k, f in self.fields.items()},
            "additionalProperties": False if self.subtables is None
            else self.subtables.json_schema(),
        }
        required = [k for k, f in self.fields.items() if f.default is REQUIRED]
        if required:
            schema["required"] = required
        if self.doc:
            schema["description"] = self.doc
        return schema
