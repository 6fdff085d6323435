"""Command-line interface ``renp-scan`` (see :mod:`renp_scan.cli.main`)."""

from .main import build_parser, main

__all__ = ["build_parser", "main"]
