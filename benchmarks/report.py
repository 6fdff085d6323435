"""Render the benchmark JSON files into the README's generated section and a PNG plot."""

from __future__ import annotations

from pathlib import Path

BEGIN = "<!-- BEGIN GENERATED (python benchmarks/run_all.py) -->"
END = "<!-- END GENERATED -->"


def _f(x, digits=3):
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    ax = abs(x)
    if ax != 0 and (ax >= 1e5 or ax < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _goal(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _n(n) -> str:
    return f"{n:.0e}".replace("e+0", "e") if n >= 1e5 else str(n)


def _table(header, rows) -> list:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out + [""]


def machine_section(results) -> list:
    any_payload = next(iter(results.values()))
    m = any_payload["meta"]["machine"]
    lines = ["### Machine and runs", ""]
    lines += [
        f"- CPU: {m['cpu_model']} (LLVM target `{m['llvm_host_cpu']}`; "
        f"{', '.join(m['cpu_flags'][:6])}...), {m['usable_cpus']} usable cores, "
        f"{m['ram_GiB']} GiB RAM; {m['platform']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']} "
        f"(llvmlite {m['llvmlite']}), SciPy {m['scipy']}, h5py {m['h5py']} "
        f"(HDF5 {m['hdf5']}), hdf5plugin {m['hdf5plugin']}, dask {m['dask']}, "
        f"distributed {m['distributed']}",
        "",
    ]
    rows = []
    for name, p in results.items():
        meta = p["meta"]
        rows.append(
            [
                name,
                meta["mode"],
                meta["date_utc"],
                f"`{meta['command']}`",
                meta["machine"]["git_commit"],
                f"{meta['wall_s']:.0f}",
                f"{meta['load_average_before']} / {meta['load_average_after']}",
                _psi(meta.get("cpu_pressure_before"))
                + " / "
                + _psi(meta.get("cpu_pressure_after")),
            ]
        )
    lines += _table(
        [
            "benchmark",
            "mode",
            "date (UTC)",
            "command",
            "commit",
            "wall s",
            "load avg before / after (1, 5, 15 min)",
            "CPU pressure before / after (avg60 %)",
        ],
        rows,
    )
    return lines


def _psi(line) -> str:
    """avg60 of a /proc/pressure/cpu line: % of time some runnable task waited for a CPU."""
    if not line:
        return "-"
    for field in line.split():
        if field.startswith("avg60="):
            return field[6:]
    return "-"


def tf_section(p) -> list:
    r = p["result"]
    ours = r["renp_scan"]
    lines = [
        "### 1. Thomas-Fermi slope chi'(0)",
        "",
        f"Reference {r['reference_slope']!r} ({r['reference_source']}). Time ratio = "
        "method time / renp_scan time, same run.",
        "",
    ]
    rows = [
        [
            "renp_scan `solve_tf`",
            f"rtol {ours['rtol']:g}",
            _f(ours["rel_err"]),
            f"{ours['time']['median_s'] * 1e3:.3f}",
            "1",
            "yes" if ours["converged"] else "no",
        ]
    ]
    for s in r["scipy"]:
        setting = f"tol {s['tol']:g}" if "tol" in s else f"rtol 1e-13, x_max {s['x_max']:g}"
        conv = (
            ("yes" if s["converged"] else f"no (status {s['status']})")
            if "status" in s
            else "bracket stalls"
        )
        rows.append(
            [
                s["method"],
                setting,
                _f(s["rel_err"]),
                f"{s['time']['median_s'] * 1e3:.3g}",
                _f(s["time_ratio_vs_renp"]),
                conv,
            ]
        )
    return lines + _table(
        ["method", "setting", "rel. error of chi'(0)", "time [ms]", "time ratio", "converged"], rows
    )


def ratio_summary(p) -> list:
    """Headline table of the kernel's same-run ratios (also printed by ``run_all.py``)."""
    from .bench_kernel import GOAL_OVER_FLOOR, GOAL_VS_NUMPY

    def ratio(ra, key, digits=1):
        return f"{ra[key]:.{digits}f}" if key in ra else "-"

    rows = []
    for row in p["result"]["rows"]:
        ra = row["ratios"]
        if "kernel_over_floor_1t" not in ra:
            continue
        over = ra["kernel_over_floor_1t"]
        plain = ra.get("speedup_vs_plain_numpy_1t")
        np_goal = row["n"] >= 10**6 and row["grid"] != "shuffled"
        rows.append(
            [
                row["case"],
                row["grid"],
                _n(row["n"]),
                f"{over:.2f}" + ("" if over <= GOAL_OVER_FLOOR else " (no)"),
                (f"{plain:.1f}" + ("" if plain >= GOAL_VS_NUMPY or not np_goal else " (no)"))
                if plain
                else "-",
                ratio(ra, "speedup_vs_numpy_1t"),
                ratio(ra, "numpy_over_floor_1t"),
                ratio(ra, "kernel_f32_over_floor_1t", 2),
                f"{row.get('f32_max_rel_diff_vs_f64_units_2m24', float('nan')):.2f}",
                f"{row['control_speedup_2t']:.2f}" if "control_speedup_2t" in row else "-",
            ]
        )
    return _table(
        [
            "case",
            "grid",
            "n",
            f"kernel / floor (goal <= {GOAL_OVER_FLOOR})",
            f"whole-array NumPy / kernel (goal >= {GOAL_VS_NUMPY:g} at >= 1e6)",
            "chunked NumPy / kernel",
            "chunked NumPy / floor (bound of the previous column)",
            "float32 kernel / floor",
            "float32 vs float64, max rel. diff / 2^-24",
            "control 2t speed-up",
        ],
        rows,
    )


def kernel_section(p) -> list:
    r = p["result"]
    c = r["divider_costs"]
    lines = [
        "### 2. Spectrum kernel throughput",
        "",
        "ns per omega point (median; 1t = CPU time of the calling thread, 2t = wall "
        "time); speed-up = NumPy time / kernel time (goal >= 20 "
        "against plain = `numpy_reference.py` on the whole array, an independent "
        "implementation as one would write it; NumPy = the same code over 65536-point "
        "pieces, its best case, whose speed-up cannot exceed its time over the floor's); "
        "mem = kernel time / one memory pass of the same size (goal <= 4 out of cache); "
        "floor = the fused floor loop (`benchmarks/roofline.py`: per point one 1/D, one "
        "sqrt(1 - c_p/D) per active pair, one energy denominator, one store, at every "
        "point) on the same grid, timed round-robin with the kernel (goal kernel/floor "
        "<= 1.25; on grids where pairs close the kernel skips them and goes below 1). "
        f"Divider cost at the start of the run: sqrt {c['sqrt_ns']:.2f} ns, "
        f"divide {c['div_ns']:.2f} ns per element. "
        "2t = grid split in two halves on two threads.",
        "",
    ]
    lines += [
        "Headline ratios (1 thread, same run; `python benchmarks/run_all.py` prints this "
        "table; `python benchmarks/track.py` tracks them over commits):",
        "",
    ] + ratio_summary(p)
    ctrl = r.get("parallel_control")
    if ctrl:
        lines += [
            "Parallel control: a GIL-free sqrt loop timed on one and two threads "
            "round-robin with each rate row (column 'control 2t speed-up'; 2.0 = a whole "
            "second core free) and once at the end of the run "
            f"({ctrl['speedup_2t']:.2f}x); read the 2t columns against it.",
            "",
        ]
    rows = []
    for row in r["rows"]:
        ns, ra = row["ns_per_point"], row["ratios"]
        floor = ns.get("floor_1t")
        rows.append(
            [
                row["case"],
                row["grid"],
                _n(row["n"]),
                f"{ns['kernel_1t']:.2f}",
                f"{ns['kernel_2t']:.2f}",
                f"{ns['numpy_1t']:.1f}" if "numpy_1t" in ns else "-",
                f"{ns['mem_1t']:.2f}",
                f"{ns['mem_2t']:.2f}",
                f"{ra['speedup_vs_numpy_1t']:.0f}",
                f"{ra['speedup_vs_numpy_2t']:.0f}" if "speedup_vs_numpy_2t" in ra else "-",
                f"{ra['speedup_vs_plain_numpy_1t']:.0f}"
                + ("" if ra["speedup_vs_plain_numpy_1t"] >= 20 or row["n"] < 10**6 else " (no)")
                if "speedup_vs_plain_numpy_1t" in ra
                else "-",
                f"{ra['kernel_over_mem_1t']:.1f}"
                + ("" if ra["kernel_over_mem_1t"] <= 4 else " (no)"),
                f"{ra['kernel_over_mem_2t']:.1f}"
                + ("" if ra["kernel_over_mem_2t"] <= 4 else " (no)"),
                f"{floor:.2f}" if floor else "-",
                (
                    f"{ra['kernel_over_floor_1t']:.2f}"
                    + ("" if ra["kernel_over_floor_1t"] <= 1.25 else " (no)")
                )
                if "kernel_over_floor_1t" in ra
                else "-",
                f"{ra['thread_scaling']:.2f}",
                f"{row['control_speedup_2t']:.2f}" if "control_speedup_2t" in row else "-",
                _f(row["max_rel_diff_vs_numpy"], 2),
            ]
        )
    lines += _table(
        [
            "case",
            "grid",
            "n",
            "kernel 1t",
            "kernel 2t",
            "NumPy 1t",
            "mem 1t",
            "mem 2t",
            "x NumPy 1t",
            "x NumPy 2t",
            "x plain NumPy 1t",
            "/mem 1t",
            "/mem 2t",
            "floor",
            "/floor",
            "2t speed-up",
            "control 2t speed-up",
            "max rel diff vs NumPy",
        ],
        rows,
    )
    census = r.get("vector_census")
    if census and "error" not in census:
        parts = []
        for name, counts in census.items():
            body = {k: v for k, v in counts.items() if "xmm" not in k or "ps" in k}
            parts.append(f"`{name}`: " + ", ".join(f"{v} {k}" for k, v in body.items()))
        lines += [
            "Machine code of the fused loops (static count of vector instructions, from "
            "`inspect_asm`; `open_loop` = the loop of a run with a fixed number of open "
            "pairs, `masked_loop` = any order): " + "; ".join(parts) + ". ymm = 4 doubles: "
            "LLVM's tuning for this target prefers 256-bit vectors; one sqrt and two "
            "divides per point are `vsqrtpd`/`vdivpd ymm`.",
            "",
        ]
    return lines


def sweep_section(p) -> list:
    r = p["result"]
    lines = [
        "### 3. Sweep end to end",
        "",
        f"Scan: {r['scan']} ({r['entries']:.3g} entries), engine on {r['workers']} "
        "worker threads. Raw write = the same arrays written again with plain h5py, "
        "same chunks and filters, chunk by chunk (one thread; compression inside HDF5). "
        "Serial = the plain one-thread job: every row with `spectrum()`, each chunk written "
        "with plain h5py (same chunks and filters), fsync. Disk floor = the file's bytes "
        "written with `os.write` and fsynced, no HDF5 and no compute: floor / serial is the "
        "lowest engine / serial time any engine can reach. Goals: engine / serial time "
        "<= 0.5 without compression; engine / raw throughput >= 0.9 with zstd and lzf.",
        "",
    ]
    rows = [
        [
            f"kernel alone, {k['threads']} thread(s)",
            f"{k['seconds']:.2f}",
            f"{k['entries_per_s'] / 1e6:.0f}",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
        for k in r["kernel_alone"]
    ]
    for c in r["compression"]:
        name = c["compression"] + (f" {c['level']}" if c["level"] is not None else "")
        eng, raw = c["engine"], c["raw_write"]
        if eng is None:
            rows.append(
                [
                    name + " (raw write only)",
                    "-",
                    "-",
                    f"{raw['seconds']:.2f}",
                    f"{raw['entries_per_s'] / 1e6:.0f}",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    f"{raw['file_bytes'] / 1e6:.0f}",
                    f"{c['compression_ratio']:.2f}",
                ]
            )
            continue
        ratio = c["engine_over_raw_throughput"]
        serial = c.get("serial_baseline")
        over_serial = c.get("engine_over_serial_time")
        raw_goal = "" if c["compression"] not in ("zstd", "lzf") else (
            " (goal)" if ratio >= 0.9 else " (below 0.9)")
        serial_goal = "" if c["compression"] != "none" or over_serial is None else (
            " (goal)" if over_serial <= 0.5 else " (above 0.5)")
        rows.append(
            [
                name,
                f"{eng['seconds']:.2f}",
                f"{eng['entries_per_s'] / 1e6:.0f}",
                f"{raw['seconds']:.2f}",
                f"{raw['entries_per_s'] / 1e6:.0f}",
                f"{ratio:.2f}" + raw_goal,
                f"{serial['seconds']:.2f}" if serial else "-",
                f"{over_serial:.2f}" + serial_goal if over_serial is not None else "-",
                f"{c['disk_floor']['seconds']:.2f}" if c.get("disk_floor") else "-",
                _f(c.get("disk_over_serial_time")),
                f"{eng['file_bytes'] / 1e6:.0f}",
                f"{c['compression_ratio']:.2f}",
            ]
        )
    lines += _table(
        [
            "run",
            "engine s",
            "engine M entries/s",
            "raw write s",
            "raw M entries/s",
            "engine / raw throughput",
            "serial s",
            "engine / serial time",
            "disk floor s",
            "floor / serial time",
            "file MB",
            "raw bytes / file",
        ],
        rows,
    )
    if r.get("default_gzip4"):
        d = r["default_gzip4"]
        lines += [
            f"gzip 4 + shuffle (the default is gzip 1): engine / raw-write throughput "
            f"{d['engine_over_raw_throughput']:.2f}, engine / kernel-alone (2 threads) "
            f"{d['engine_over_kernel_2t_throughput']:.3f}.",
            "",
        ]
    if r["scaling"]:
        lines += ["#### 4. Scaling (`renp-scan run` under `/usr/bin/time -v`, benchmark.toml's gzip 1)", ""]
        base = next((s for s in r["scaling"] if "wall_s" in s and s["entries"] >= 1e8), None)
        rows = []
        for s in r["scaling"]:
            if "skipped" in s:
                rows.append([f"{s['entries']:.2g}", "skipped: " + s["skipped"], "", "", "", ""])
                continue
            per = s["wall_s"] / s["entries"] * 1e9
            rel = (per / (base["wall_s"] / base["entries"] * 1e9)) if base else None
            rows.append(
                [
                    f"{s['entries']:.3g}",
                    f"{s['wall_s']:.1f}",
                    f"{per:.1f}",
                    _f(rel),
                    f"{s['peak_rss_MiB']:.0f}",
                    f"{s['file_bytes'] / 1e9:.2f}",
                ]
            )
        lines += _table(
            [
                "entries",
                "wall s",
                "ns / entry",
                "ns/entry relative to 1e8 run",
                "peak RSS MiB",
                "file GB",
            ],
            rows,
        )
    return lines


def coldstart_section(p) -> list:
    r = p["result"]
    lines = ["### 5. Cold start", ""]
    if "first_call" not in r:
        return lines + ["(smoke run only)", ""]
    fc = r["first_call"]
    warm = sorted(w["first_call_s"] for w in fc["warm"])
    lines += [
        f"- First `spectrum` calls (Cs, both channels) in a fresh process: "
        f"{fc['cold']['first_call_s']:.2f} s with an empty Numba cache (compile), "
        f"{warm[len(warm) // 2]:.2f} s with the cache it wrote "
        f"(ratio {fc['compile_over_warm_first_call']:.0f}); `import renp_scan` "
        f"{fc['cold']['import_s']:.2f} s; cache: {fc['cache_after_cold']['index_files']} "
        f"kernels, {fc['cache_after_cold']['bytes'] / 1e6:.1f} MB."
    ]
    if "cli" in r:
        c = r["cli"]
        lines += [
            f"- `{c['command']}` with a warm cache: {c['warm_median_s']:.2f} s wall "
            f"(goal <= {c['goal_s']:g} s: {_goal(c['meets_goal'])}); bare interpreter "
            f"{c['python_start_s']:.2f} s, `import renp_scan` {c['import_renp_scan_s']:.2f} s; "
            f"first run with an empty cache {c['cold_cache_s']:.1f} s."
        ]
    if "dask" in r:
        d = r["dask"]
        verdict = (
            "rewrote nothing (no torn or stale entries)"
            if d["fresh_process_compiled_nothing"]
            else "**recompiled** (cache entries unusable)"
        )
        cold = ", ".join(f"{w['first_call_s']:.1f}" for w in d["cold"])
        warm = ", ".join(f"{w['first_call_s']:.2f}" for w in d["warm"])
        lines += [
            f"- dask LocalCluster, 2 worker processes, one shared empty cache, first calls "
            f"started together: first call {cold} s (each worker compiles once); "
            f"after a restart (warm cache) {warm} s. Cache after: "
            f"{d['cache_after_workers']['index_files']} index / "
            f"{d['cache_after_workers']['data_files']} data files; a third fresh process "
            f"then took {d['fresh_process_after']['first_call_s']:.2f} s and "
            f"{verdict}."
        ]
        if "engine_quick_on_cluster_s" in d:
            lines[-1] += (
                f" `run_scan(scans/quick.toml, scheduler=client)` on the restarted cluster "
                f"(warm cache): {d['engine_quick_on_cluster_s']:.2f} s for "
                f"{d['engine_entries']} entries."
            )
    return lines + [""]


def render(results) -> str:
    lines = [BEGIN, ""]
    if results:
        lines += machine_section(results)
    for name, fn in (
        ("tf", tf_section),
        ("kernel", kernel_section),
        ("sweep", sweep_section),
        ("coldstart", coldstart_section),
    ):
        if name in results:
            lines += fn(results[name])
    lines.append(END)
    return "\n".join(lines) + "\n"


def render_readme(results, path: Path) -> None:
    """Replace the generated section of ``path`` (appended if the markers are missing)."""
    path = Path(path)
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    block = render(results)
    if BEGIN in text and END in text:
        head = text[: text.index(BEGIN)]
        tail = text[text.index(END) + len(END) :].lstrip("\n")
        text = head + block + ("\n" + tail if tail else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def throughput_plot(kernel_payload, path: Path) -> None:
    """Points per second vs grid size, per mode, one panel per case."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in kernel_payload["result"]["rows"] if r["grid"] == "linear"]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = plt.subplots(1, len(cases), figsize=(4.6 * len(cases), 4), squeeze=False)
    styles = {
        "kernel_1t": ("C0", "-", "kernel 1 thread"),
        "kernel_2t": ("C0", "--", "kernel 2 threads"),
        "numpy_1t": ("C1", "-", "NumPy 1 thread"),
        "numpy_2t": ("C1", "--", "NumPy 2 threads"),
        "numpy_plain_1t": ("C1", ":", "plain (unchunked) NumPy 1 thread"),
        "mem_1t": ("C7", "-", "memory pass 1 thread"),
        "mem_2t": ("C7", "--", "memory pass 2 threads"),
    }
    for ax, case in zip(axes[0], cases, strict=True):
        sub = sorted((r for r in rows if r["case"] == case), key=lambda r: r["n"])
        for key, (color, ls, label) in styles.items():
            pts = [(r["n"], r["points_per_s"][key]) for r in sub if key in r["points_per_s"]]
            if pts:
                ax.loglog(
                    *zip(*pts, strict=True), color=color, ls=ls, marker="o", ms=3, label=label
                )
        ax.set_title(
            {"all_pairs": "I_ij, Delta_ij: all nine pairs"}.get(
                case, f"Gamma(omega), {case} channel"
            )
        )
        ax.set_xlabel("omega points")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("points / s")
    axes[0][-1].legend(fontsize=7)
    meta = kernel_payload["meta"]
    fig.suptitle(f"{meta['machine']['cpu_model']}, {meta['date_utc'][:10]}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
