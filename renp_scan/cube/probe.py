"""Read a whole HDF5 file's structure in a child process before trusting it.

Damage that crashes HDF5 then becomes an error message instead of a crash of the run.

HDF5 trusts its metadata: a damaged attribute or object header can make it read
out of bounds and the process die with SIGSEGV (seen when single bytes of a
partial are flipped). Before a resume touches a partial in-process, a short-lived
child walks every object, attribute and small dataset and the chunk index of every
chunked dataset; if the child dies, the partial is reported damaged.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

#: The child: open read-only, walk everything; exit 0 when all of it could be read.
_WALK = r"""
import sys
import h5py

try:
    import hdf5plugin  # noqa: F401  (zstd-compressed cubes)
except ImportError:
    pass


def walk(name, obj):
    for key in obj.attrs:
        obj.attrs[key]
    if isinstance(obj, h5py.Dataset):
        if obj.chunks is None:
            obj[...]
        else:
            obj.id.get_num_chunks()
            if hasattr(obj.id, "chunk_iter"):
                obj.id.chunk_iter(lambda info: None)


with h5py.File(sys.argv[1], "r", locking=False) as f:
    walk("/", f)
    f.visititems(walk)
"""


def probe(path, timeout: float = 600.0) -> str | None:
    """Walk ``path`` in a child process; return None if it reads cleanly, else what went wrong.

    Parameters
    ----------
    path : str or Path
        HDF5 file to read.
    timeout : float
        Seconds before the child is given up on [s].
    """
    try:
        done = subprocess.run([sys.executable, "-c", _WALK, str(Path(path))],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"reading its structure took more than {timeout:g} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        return f"HDF5 crashed ({name}) reading its structure"
    last = done.stderr.strip().splitlines()[-1:] or ["unknown error"]
    return f"reading its structure failed: {last[0]}"
