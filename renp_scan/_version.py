"""The package version, in a module of its own so every layer can record it."""

from importlib import metadata

try:
    # pyproject.toml holds the version; the installed metadata is its only copy here.
    __version__ = metadata.version("renp_scan")
except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
