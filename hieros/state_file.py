"""A tree of plain data and arrays as one safetensors file: what a checkpoint is on disk. Reading one runs no code.

The tree may hold dicts (OrderedDicts read back as dicts; any keys of the kinds below), lists, tuples, None,
bool, int, float, str, bytes, NumPy arrays and scalars, and torch tensors (any dtype, bfloat16 included; read
back on the device the reader names, the CPU unless told, so a GPU run's checkpoint opens on a machine without
one). Every array and tensor becomes one tensor of the safetensors file, named by its position in the tree; the
tree itself, with each container tagged by its kind, is JSON in the file's metadata (`tree`). An object that
appears twice in the tree (the same array, say) is stored once and read back as one object, as pickle does.
Anything else (a class of ours, a function) is refused when saving: `StateFileError` names where it sits.

The file is read by safetensors and json alone, so a crafted file can fail to load but cannot execute code,
which is why checkpoints from a shared results store are safe to resume (docs/runner.md).

With a `BlobStore`, every NumPy array of at least BLOB_BYTES is written once into a folder of its own, as a
safetensors file named by the SHA-256 of its dtype, shape and bytes, and the tree names it (`{"blob": hash}`); it
is read back, and checked against its name, from there. A replay's full chunks never change, so successive
checkpoints of a run share them: the replay is on disk once, not once per checkpoint, and a checkpoint writes
only the chunks filled since the last one (`BlobStore.keep` removes the ones no checkpoint names any more).

Tensors are recognised through the torch a caller has loaded; torch is imported here only to read back a file
that holds tensors.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from hieros.rundir import atomic_write_bytes

FORMAT = "hieros-bench/state/1"
_PLAIN = (type(None), bool, int, float, str)
BLOB_BYTES = 1 << 18  # arrays from 256 KiB go to the blob store (a replay chunk of 64 Atari frames: 768 KiB)
_BLOB_NAME = re.compile(r"[0-9a-f]{64}")


class StateFileError(ValueError):
    """A tree that cannot be saved, or a file that is not a readable state file."""


class BlobStore:
    """A folder of arrays, each in a file named by the hash of its content, written once (atomically)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def put(self, array: np.ndarray) -> str:
        name = _content_hash(array)
        file = self.folder / f"{name}.safetensors"
        if not file.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(file, save_arrays({"0": np.ascontiguousarray(array)}))
        return name

    def get(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or not _BLOB_NAME.fullmatch(name):  # a name, never a path
            raise StateFileError(f"a malformed blob name {str(name)[:80]!r}")
        file = self.folder / f"{name}.safetensors"
        try:
            with safe_open(str(file), framework="numpy") as f:
                array = f.get_tensor("0")
        except (OSError, SafetensorError) as error:
            raise StateFileError(f"blob {name[:12]} is missing or unreadable ({type(error).__name__})") from error
        if _content_hash(array) != name:
            raise StateFileError(f"blob {name[:12]} does not hold what its name says (damaged)")
        return array

    def keep(self, names: set[str]) -> None:
        """Remove every blob not in `names` (those the checkpoints still name)."""
        for file in self.folder.glob("*.safetensors") if self.folder.exists() else ():
            if file.stem not in names:
                file.unlink(missing_ok=True)


def _content_hash(array: np.ndarray) -> str:
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()


def blob_names(path: str | Path) -> set[str]:
    """The blobs the state file at `path` names (empty if it is not readable)."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            tree = (f.metadata() or {}).get("tree", "")
    except (OSError, SafetensorError):
        return set()
    return set(re.findall(r'"blob":"([0-9a-f]{64})"', tree))


def _torch() -> Any | None:
    return sys.modules.get("torch")


def dumps(tree: Any, blobs: BlobStore | None = None) -> bytes:
    """The safetensors bytes of `tree` (see the module for what it may hold); with `blobs`, its large arrays are
    written there and named."""
    arrays: dict[str, np.ndarray] = {}
    names: dict[int, str] = {}  # id of an array or tensor already stored -> its name
    keep: list[Any] = []  # the originals, alive until the end, so no id is reused meanwhile

    def store(value: Any, array: np.ndarray) -> str:
        name = names.get(id(value))
        if name is None:
            name = names[id(value)] = str(len(arrays))
            arrays[name] = array if array.flags.c_contiguous else array.copy(order="C")  # 0-d stays 0-d
            keep.append(value)
        return name

    def encode(value: Any, where: str) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        if isinstance(value, dict):  # an OrderedDict (a module's state_dict) is read back as a dict
            if all(type(k) is str for k in value):
                return {"dict": {k: encode(v, f"{where}.{k}") for k, v in value.items()}}
            return {"items": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
        if kind in (list, tuple):
            items = [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
            return {"list" if kind is list else "tuple": items}
        if kind is bytes:
            return {"bytes": store(value, np.frombuffer(value, np.uint8))}
        if kind is np.ndarray:
            if value.dtype.hasobject:
                raise StateFileError(f"{where}: an array of Python objects cannot be saved")
            if blobs is not None and value.nbytes >= BLOB_BYTES:
                return {"blob": blobs.put(value)}
            return {"array": store(value, value)}
        if isinstance(value, np.generic):
            return {"scalar": [value.dtype.str, value.item()]}
        torch = _torch()
        if torch is not None and isinstance(value, torch.Tensor):
            return {
                "tensor": store(value, _tensor_array(value)),
                "dtype": str(value.dtype),
                "device": str(value.device),
            }
        raise StateFileError(f"{where}: a {kind.__module__}.{kind.__qualname__} cannot be saved in a state file")

    tree_json = json.dumps(encode(tree, "state"), separators=(",", ":"))
    return save_arrays(arrays, metadata={"format": FORMAT, "tree": tree_json})


def _tensor_array(tensor: Any) -> np.ndarray:
    torch = _torch()
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16: its bits, read back with the dtype recorded
        tensor = tensor.view(torch.int16)
    return tensor.numpy()


def load(path: str | Path, device: str = "cpu", blobs: BlobStore | None = None) -> Any:
    """The tree saved in the state file at `path`, its tensors on `device` and its named arrays from `blobs`;
    StateFileError if it is not one (or is damaged, or names a blob that is missing)."""
    try:
        with safe_open(str(path), framework="numpy") as f:
            metadata = f.metadata() or {}
            arrays = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except SafetensorError as error:
        raise StateFileError(f"not a readable state file ({error})") from error
    return _tree(metadata, arrays, device, blobs)


def load_bytes(data: bytes, device: str = "cpu") -> Any:
    """The tree of a state file's bytes (as `dumps` gives them), its tensors on `device`."""
    try:
        arrays = load_arrays(data)
    except SafetensorError as error:
        raise StateFileError(f"not a readable state file ({error})") from error
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])  # valid: safetensors has read it
    return _tree(header.get("__metadata__") or {}, arrays, device)


def _tree(metadata: dict[str, str], arrays: dict[str, np.ndarray], device: str, blobs: BlobStore | None = None) -> Any:
    if metadata.get("format") != FORMAT:
        raise StateFileError(f"not a state file of this project (format {metadata.get('format')!r})")
    try:
        tree = json.loads(metadata["tree"])
    except (json.JSONDecodeError, KeyError, RecursionError) as error:
        raise StateFileError(f"a state file without a readable tree ({type(error).__name__})") from error
    made: dict[str, Any] = {}

    def shared(name: Any, make: Any) -> Any:
        if name not in arrays:
            raise StateFileError(f"the tree names a missing tensor {name!r}")
        if name not in made:
            made[name] = make(arrays[name])
        return made[name]

    def decode(node: Any) -> Any:
        if type(node) in _PLAIN:
            return node
        if type(node) is not dict or len(node) not in (1, 3):
            raise StateFileError(f"malformed node in the tree: {str(node)[:80]}")
        (tag, value), *rest = node.items()
        if rest and tag != "tensor":
            raise StateFileError(f"malformed node in the tree: {str(node)[:80]}")
        if tag == "dict":
            return {k: decode(v) for k, v in value.items()}
        if tag == "items":
            return {_hashable(decode(k)): decode(v) for k, v in value}
        if tag == "list":
            return [decode(v) for v in value]
        if tag == "tuple":
            return tuple(decode(v) for v in value)
        if tag == "bytes":
            return shared(value, lambda a: a.tobytes())
        if tag == "array":
            return shared(value, lambda a: a)
        if tag == "blob":
            if blobs is None:
                raise StateFileError("the tree names a blob, and no blob store was given")
            if value not in made:
                made[value] = blobs.get(value)
            return made[value]
        if tag == "scalar":
            return np.dtype(value[0]).type(value[1])
        if tag == "tensor":
            dtype = dict(rest)["dtype"]  # the device it was saved from is on record; it is read onto `device`
            return shared(value, lambda a: _make_tensor(a, dtype, device))
        raise StateFileError(f"unknown node {tag!r} in the tree")

    try:
        return decode(tree)
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as error:
        if isinstance(error, StateFileError):
            raise
        raise StateFileError(f"a malformed tree ({type(error).__name__}: {str(error)[:80]})") from error


def _hashable(key: Any) -> Any:
    try:
        hash(key)
    except TypeError:
        raise StateFileError(f"a dict key that cannot be a key: {str(key)[:80]}") from None
    return key


def _make_tensor(array: np.ndarray, dtype: str, device: str) -> Any:
    torch = _torch()
    if torch is None:
        import importlib

        torch = importlib.import_module("torch")  # a learning agent's checkpoint read where torch is not loaded yet
    tensor = torch.from_numpy(array)
    if dtype == "torch.bfloat16":
        tensor = tensor.view(torch.bfloat16)
    elif str(tensor.dtype) != dtype:
        raise StateFileError(f"a tensor recorded as {dtype} holds {tensor.dtype}")
    return tensor.to(device)
