"""A ``torch.save`` checkpoint read without torch and without unpickling.

A checkpoint is a zip: ``<name>/data.pkl`` (a pickle describing the object),
``<name>/data/<key>`` (the raw bytes of each storage) and ``<name>/byteorder``.
Unpickling ``data.pkl`` would import and call whatever it names, so it is never
unpickled: :func:`pickletools.genops` only splits it into opcodes, and a small stack
machine here interprets the handful that a state dict uses (strings, numbers, tuples,
lists, dicts, memo).  The only names it acts on are ``collections.OrderedDict`` (an
empty dict), ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` (a numpy
array from a storage, offset, size and stride) and the typed storage classes (a
dtype); they are compared as strings and never imported.  Anything else (another
callable, an opcode outside the list, a bfloat16 storage) raises
:class:`NeedsTorch`, and the caller says that torch is needed.
"""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path

import numpy as np

from .npz import ModelFileError

STORAGE_DTYPES = {"FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2",
                  "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2",
                  "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}
REBUILD_TENSOR = ("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = ("torch._utils", "_rebuild_parameter")
ORDERED_DICT = ("collections", "OrderedDict")
#: Opcodes that push a constant (their argument) as it is.
CONSTANTS = {"BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "BININT", "BININT1", "BININT2",
             "LONG1", "BINFLOAT", "SHORT_BINBYTES", "BINBYTES"}


class NeedsTorch(ModelFileError):
    """The checkpoint holds something only torch's own loader may rebuild."""


class _Global:
    def __init__(self, module: str, name: str):
        self.key = (module, name)


class _Storage:
    def __init__(self, dtype: str, key: str, numel: int):
        self.dtype, self.key, self.numel = dtype, key, numel


class _Mark:
    pass


def _pop_mark(stack) -> list:
    for k in range(len(stack) - 1, -1, -1):
        if isinstance(stack[k], _Mark):
            items = stack[k + 1:]
            del stack[k:]
            return items
    raise NeedsTorch("the pickle has an unbalanced MARK")


def _tensor(path, z, prefix, order, storage, offset, size, stride) -> np.ndarray:
    if not isinstance(storage, _Storage):
        raise NeedsTorch(f"{path}: a tensor is rebuilt from something other than a storage")
    member = f"{prefix}data/{storage.key}"
    try:
        raw = z.read(member)
    except KeyError:
        raise ModelFileError(f"{path}: storage {member!r} is missing from the checkpoint") from None
    flat = np.frombuffer(raw, dtype=np.dtype(storage.dtype).newbyteorder(order))
    if flat.size < storage.numel:
        raise ModelFileError(f"{path}: storage {member!r} holds {flat.size} values, the pickle says "
                             f"{storage.numel}")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or any(s < 0 for s in stride) or int(offset) < 0:
        raise ModelFileError(f"{path}: a tensor of size {size}, stride {stride}, offset {offset}")
    if 0 in size:
        return np.zeros(size, dtype=np.dtype(storage.dtype))
    last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= flat.size:
        raise ModelFileError(f"{path}: a tensor of size {size} stride {stride} at offset {offset} "
                             f"reaches past storage {member!r} ({flat.size} values)")
    item = flat.itemsize
    view = np.lib.stride_tricks.as_strided(flat[int(offset):], shape=size,
                                           strides=tuple(s * item for s in stride))
    return np.array(view, dtype=np.dtype(storage.dtype).newbyteorder("="))


def read_torch_zip(path) -> object:
    """The object a ``torch.save`` zip holds, tensors as numpy arrays (see module docstring)."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise NeedsTorch(f"{path}: not a zip checkpoint (the legacy torch.save format needs torch)") from None
    with z:
        pkl = [n for n in z.namelist() if n.endswith("data.pkl")]
        if len(pkl) != 1:
            raise NeedsTorch(f"{path}: {len(pkl)} data.pkl members; expected one")
        prefix = pkl[0][:-len("data.pkl")]
        order = "<"
        if f"{prefix}byteorder" in z.namelist():
            order = "<" if z.read(f"{prefix}byteorder").strip() == b"little" else ">"
        stack, memo = [], {}
        try:
            ops = list(pickletools.genops(z.read(pkl[0])))
        except Exception as exc:  # noqa: BLE001 - a malformed pickle, whatever genops raises
            raise ModelFileError(f"{path}: data.pkl is not a valid pickle ({exc})") from None
        for op, arg, _ in ops:
            name = op.name
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                if len(stack) != 1:
                    raise NeedsTorch(f"{path}: the pickle ends with {len(stack)} objects")
                return stack[0]
            if name in CONSTANTS:
                stack.append(arg)
            elif name == "NONE":
                stack.append(None)
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(name == "NEWTRUE")
            elif name == "MARK":
                stack.append(_Mark())
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "TUPLE":
                stack.append(tuple(_pop_mark(stack)))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = tuple(stack[-n:])
                del stack[-n:]
                stack.append(items)
            elif name in ("BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("BINGET", "LONG_BINGET"):
                stack.append(memo[arg])
            elif name == "GLOBAL":
                module, _, attr = arg.partition(" ")
                stack.append(_Global(module, attr))
            elif name == "STACK_GLOBAL":
                attr, module = stack.pop(), stack.pop()
                stack.append(_Global(str(module), str(attr)))
            elif name == "BINPERSID":
                pid = stack.pop()
                if (not isinstance(pid, tuple) or len(pid) != 5 or pid[0] != "storage"
                        or not isinstance(pid[1], _Global)):
                    raise NeedsTorch(f"{path}: a persistent id {pid!r} that is not a typed storage")
                kind = pid[1].key
                if kind[0] != "torch" or kind[1] not in STORAGE_DTYPES:
                    raise NeedsTorch(f"{path}: storage type {'.'.join(kind)}")
                stack.append(_Storage(STORAGE_DTYPES[kind[1]], str(pid[2]), int(pid[4])))
            elif name == "REDUCE":
                args, fn = stack.pop(), stack.pop()
                key = fn.key if isinstance(fn, _Global) else None
                if key == ORDERED_DICT and args == ():
                    stack.append({})
                elif key == REBUILD_TENSOR and len(args) >= 4:
                    stack.append(_tensor(path, z, prefix, order, *args[:4]))
                elif key == REBUILD_PARAMETER and args and isinstance(args[0], np.ndarray):
                    stack.append(args[0])
                else:
                    shown = ".".join(key) if key else type(fn).__name__
                    raise NeedsTorch(f"{path}: the checkpoint calls {shown}")
            elif name in ("SETITEM", "SETITEMS"):
                items = [stack.pop(), stack.pop()][::-1] if name == "SETITEM" else _pop_mark(stack)
                target = stack[-1]
                if not isinstance(target, dict):
                    raise NeedsTorch(f"{path}: SETITEM on a {type(target).__name__}")
                for k in range(0, len(items), 2):
                    target[items[k]] = items[k + 1]
            elif name in ("APPEND", "APPENDS"):
                items = [stack.pop()] if name == "APPEND" else _pop_mark(stack)
                if not isinstance(stack[-1], list):
                    raise NeedsTorch(f"{path}: APPEND on a {type(stack[-1]).__name__}")
                stack[-1].extend(items)
            elif name == "BUILD":
                stack.pop()                # an OrderedDict's _metadata: not part of the weights
                if not isinstance(stack[-1], dict):
                    raise NeedsTorch(f"{path}: BUILD on a {type(stack[-1]).__name__}")
            else:
                raise NeedsTorch(f"{path}: pickle opcode {name}")
    raise NeedsTorch(f"{path}: the pickle has no STOP")
