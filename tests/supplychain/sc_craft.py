"""Builders of crafted model files for the scanner tests.

Every payload is harmless (``os.getpid`` and friends) and none of these files is ever
loaded: the tests only scan them.
"""

from __future__ import annotations

import os
import pickle
import struct

PROTO4 = b"\x80\x04"
STOP = b"."
MARK = b"("
TUPLE = b"t"
TUPLE1 = b"\x85"
TUPLE2 = b"\x86"
EMPTY_TUPLE = b")"
REDUCE = b"R"
MEMOIZE = b"\x94"
STACK_GLOBAL = b"\x93"
BUILD = b"b"
POP = b"0"


def sbu(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    data = text.encode()
    return b"\x8c" + bytes([len(data)]) + data


def glob(module: str, name: str) -> bytes:
    """Protocol-0 GLOBAL."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def stack_global(module: str, name: str) -> bytes:
    return sbu(module) + sbu(name) + STACK_GLOBAL


def call(module: str, name: str, *args: str) -> bytes:
    """``module.name(*args)`` with string arguments, protocol 4."""
    return stack_global(module, name) + MARK + b"".join(sbu(a) for a in args) + TUPLE + REDUCE


def pickled(body: bytes) -> bytes:
    return PROTO4 + body + STOP


class GetPid:
    """Pickles as a call to ``os.getpid()`` (harmless)."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (os.getpid, ())


def getpid_pickle(protocol: int = 4) -> bytes:
    return pickle.dumps(GetPid(), protocol=protocol)


def binbytes8_huge() -> bytes:
    """A BINBYTES8 that declares 2**60 bytes (a file of a few bytes)."""
    return PROTO4 + b"\x8e" + struct.pack("<Q", 1 << 60) + b"abc"


def onnx_matmul_model():  # -> onnx.ModelProto
    """A one-node ONNX model (Y = X @ W) whose weight W is an initializer."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 4), np.float32), name="W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["Y"])],
        "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 4])],
        initializer=[weight],
    )
    return helper.make_model(graph)
