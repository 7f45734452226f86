"""Where `report`, `plot sampler` and `export` may write, and what they may replace there: never a file they did
not write.

- An output is refused before any work when it is, holds, or lies inside an input (the results store), or lies
  inside a run directory.
- A folder written here carries MANIFEST, the list of the files written into it. An existing output folder is
  taken only when it is empty, carries MANIFEST (written here before), or holds only folders that are empty or
  carry it (a folder of suite reports); anything else, a checkout or a run directory, is refused.
- The files are written into a staging folder and then moved in. Of the files already there, only those that
  MANIFEST lists are replaced, or removed when a report no longer writes them; whatever else a user put in the
  folder stays.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from analysis.store import StoreError
from hieros import rundir

MANIFEST = ".hieros-report.json"
SCHEMA = "hieros-bench/report-files/1"


def check_folder(path: str | Path, inputs: Mapping[str, Path] | None = None) -> Path:
    """`path` if a report can be written there (see the module), else a one-line StoreError; `inputs` names what
    the command reads ({"the results store": RESULTS}). Creates nothing."""
    path = _check_writable(Path(path), directory=True)
    _check_apart(path, inputs or {})
    if path.is_dir():
        foreign = _foreign_entries(path)
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise StoreError(
                f"{path}: it holds {shown}, which no report wrote (it has no {MANIFEST}); choose another --out, "
                "or empty or remove the folder yourself"
            )
    return path


def check_file(path: str | Path, inputs: Mapping[str, Path] | None = None) -> Path:
    """`path` if an output file can be written there: not inside an input or a run directory, its folder
    writable (whether an existing file may be replaced is the command's to say). Creates nothing."""
    path = _check_writable(Path(path), directory=False)
    _check_apart(path, inputs or {})
    return path


def _check_writable(path: Path, directory: bool) -> Path:
    kind = "folder" if directory else "file"
    if path.exists() and path.is_dir() != directory:
        raise StoreError(f"{path}: it exists and is not a {kind}; give another output {kind}")
    ancestor = path if path.is_dir() else path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StoreError(f"{path}: {ancestor} is a file, so the output {kind} cannot be made; give another")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise StoreError(f"{path}: {ancestor} is not writable; give another output {kind}")
    return path


def _check_apart(path: Path, inputs: Mapping[str, Path]) -> None:
    where = path.resolve()
    for what, source in inputs.items():
        source = source.resolve()
        if where == source:
            raise StoreError(f"{path}: it is {what}; choose another --out")
        if source.is_relative_to(where):
            raise StoreError(f"{path}: it holds {what} ({source}); choose another --out")
    for folder in (where, *where.parents):
        if (folder / rundir.RUN_FILE).is_file():
            raise StoreError(f"{path}: it is inside the run directory {folder}; choose another --out")


def _foreign_entries(folder: Path) -> list[str]:
    """The entries that keep an existing folder from being an output: none when it is empty, carries MANIFEST,
    or holds only folders that are empty or carry it."""
    if _listed(folder) is not None:
        return []
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.is_symlink() or not entry.is_dir() or (_listed(entry) is None and any(entry.iterdir()))
    )


def _listed(folder: Path) -> set[str] | None:
    """The file names MANIFEST lists in `folder`, or None where it has no valid one."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("schema") == SCHEMA else None
    if not isinstance(files, list) or not all(isinstance(name, str) and _plain(name) for name in files):
        return None
    return set(files)


def _plain(name: str) -> bool:
    return name not in ("", ".", "..", MANIFEST) and "/" not in name and "\\" not in name


def _write_manifest(folder: Path, names: set[str]) -> None:
    rundir.atomic_write_json(folder / MANIFEST, {"schema": SCHEMA, "files": sorted(names)})


def write_folder(out: Path, write: Callable[[Path], list[str]], drop_earlier: bool) -> list[Path]:
    """Fill `out` with the files `write(folder)` writes into the folder it is given (returning their names), whole
    or not at all: a failure or Ctrl-C before they are all written leaves `out` as it was. Of the files an earlier
    MANIFEST lists, those not written again are removed when `drop_earlier` (a report made whole again), else
    kept and still listed. Returns the paths in their final place."""
    try:
        if not out.exists():
            names = _write_new(out, write)
        else:
            check_folder(out)  # the folder may have changed during the computation
            names = _write_into(out, write, drop_earlier)
    except OSError as error:  # a full disk or a lost permission: say where (forked workers lose the file name)
        raise OSError(error.errno, error.strerror or str(error), str(out)) from error
    return [out / name for name in names]


def _write_new(out: Path, write: Callable[[Path], list[str]]) -> list[str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = _staging(out.parent, f".{out.name}.new-")
    try:
        names = write(staging)
        _write_manifest(staging, set(names))
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def _write_into(out: Path, write: Callable[[Path], list[str]], drop_earlier: bool) -> list[str]:
    staging = _staging(out, f"{MANIFEST}.new-")
    try:
        names = write(staging)
        earlier = _listed(out) or set()
        in_the_way = sorted(name for name in names if os.path.lexists(out / name) and name not in earlier)
        if in_the_way:
            raise StoreError(
                f"{out / in_the_way[0]}: no report wrote it, and this one writes a file of that name; move it "
                "away and run again"
            )
        kept = set() if drop_earlier else earlier
        _write_manifest(out, earlier | set(names))  # listed first: a stop below leaves no file of ours unlisted
        for name in names:
            os.replace(staging / name, out / name)
        for name in earlier - set(names) - kept:
            if (out / name).is_file() and not (out / name).is_symlink():
                (out / name).unlink()
        _write_manifest(out, set(names) | kept)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return names


def _staging(parent: Path, prefix: str) -> Path:
    """A fresh folder in `parent` with the permissions of any other (not mkdtemp's private ones)."""
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    umask = os.umask(0o022)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)
    return staging
