"""Compare two renp_scan cubes: every dataset bit for bit, every attribute but run-time provenance.

Used to show that a refactoring leaves cubes unchanged: run a scan with both versions
(`renp-scan run scans/X.toml -o X.h5`) and compare. Dimension-scale references are
compared by the names they point to.

usage: python scripts/compare_cubes.py A.h5 B.h5   (exit 0 = identical, 1 = differences listed)
"""
import re
import sys

import h5py
import numpy as np

try:  # registers the zstd filter, to read zstd cubes
    import hdf5plugin  # noqa: F401
except ImportError:
    pass

# attributes that legitimately change from run to run
VOLATILE = re.compile(r"(REFERENCE_LIST|utc|date|time|created|history|host|commit|version|duration|"
                      r"seconds|elapsed|"
                      r"user|pid|platform|python|numba|numpy|h5py|hdf5|dask|software|provenance_run|"
                      r"command|cwd|machine|cpu)", re.I)


def attrs(obj):
    out = {}
    for k, v in obj.attrs.items():
        if VOLATILE.search(k):
            continue
        if isinstance(v, np.ndarray) and v.dtype.kind == "O":
            v = tuple(obj.file[x].name if isinstance(x, h5py.Reference) else
                      (x.decode() if isinstance(x, bytes) else str(x)) for x in v.ravel())
        elif isinstance(v, np.ndarray):
            v = (v.dtype.str, v.shape, v.tobytes())
        elif isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[k] = v
    return out


def walk(f):
    items = {}
    def visit(name, obj):
        items[name] = obj
    f.visititems(visit)
    return items


def main(a, b):
    diffs = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        ia, ib = walk(fa), walk(fb)
        ia[""], ib[""] = fa, fb
        for name in sorted(set(ia) | set(ib)):
            if name not in ia or name not in ib:
                diffs.append(f"{name}: only in {'A' if name in ia else 'B'}")
                continue
            oa, ob = ia[name], ib[name]
            aa, ab = attrs(oa), attrs(ob)
            for k in sorted(set(aa) | set(ab)):
                va, vb = aa.get(k, "<missing>"), ab.get(k, "<missing>")
                try:
                    same = bool(np.all(va == vb)) if not isinstance(va, tuple) else va == vb
                except Exception:
                    same = repr(va) == repr(vb)
                if not same:
                    diffs.append(f"{name or '/'} attr {k}: {str(va)[:80]!r} != {str(vb)[:80]!r}")
            if isinstance(oa, h5py.Dataset):
                form = [(o.dtype, o.shape, o.chunks, o.compression, o.compression_opts)
                        for o in (oa, ob)]
                if form[0] != form[1]:
                    diffs.append(f"{name}: dtype/shape/chunks/filters differ")
                    continue
                if oa.dtype.kind in "OSU":
                    va = np.asarray(oa[()]).ravel().tolist()
                    vb = np.asarray(ob[()]).ravel().tolist()
                    if va != vb:
                        diffs.append(f"{name}: values differ")
                elif oa[()].tobytes() != ob[()].tobytes():
                    diffs.append(f"{name}: bytes differ")
    for d in diffs:
        print(d)
    print(f"{a} vs {b}: {'IDENTICAL' if not diffs else f'{len(diffs)} differences'}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
