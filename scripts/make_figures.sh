#!/usr/bin/env bash
# Regenerate the paper's Figs. 4, 5 and 6 (docs/figures/fig*.png) through the CLI.
# Usage: bash scripts/make_figures.sh   (from anywhere; needs the [plot] extra)
# Each PNG records the scan (path, sha256), the plot options and a summary of the
# plotted data; tests/test_figures.py recomputes them from scans/ and fails when a
# committed figure no longer matches what this script makes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
renp-scan run scans/cs_fig4.toml -o "$work/cs_fig4.h5" --quiet
renp-scan plot "$work/cs_fig4.h5" --overwrite -o docs/figures/fig4_cs.png \
  --title "Cs 6P1/2 -> 6S1/2, m0 = 0.1 eV NH: Majorana vs Dirac (paper Fig. 4)"
renp-scan run scans/cs_fig5_threshold.toml -o "$work/cs_fig5.h5" --quiet
renp-scan plot "$work/cs_fig5.h5" --overwrite -o docs/figures/fig5_cs_threshold.png \
  --title "Cs threshold region, m0 = 0.1 eV NH (paper Fig. 5)"
renp-scan run scans/xe_fig6.toml -o "$work/xe_fig6.h5" --quiet
renp-scan plot "$work/xe_fig6.h5" --overwrite -o docs/figures/fig6_xe.png --nature majorana dirac \
  --omega-min 4.2153 --omega-max 4.2185 --no-thresholds \
  --title "Xe 6s 3P1, NH/IH at 50 and 100 meV, Majorana and Dirac (paper Fig. 6)"
renp-scan plot "$work/xe_fig6.h5" --overwrite -o docs/figures/fig6_xe_full.png --nature majorana dirac \
  --title "Xe, whole spectrum: the NH/IH, m0 = 50/100 meV curves overlap except near the endpoint"
