"""A symbolic pickle machine: the opcode walk of ``pickle.Unpickler``, minus the effects.

It imports nothing and calls nothing.

Each opcode is read from a bounded :class:`~trainguard.supplychain.reader.Source` and
applied to a symbolic stack, metastack (marks) and memo, exactly as CPython's
``Lib/pickle.py`` ``_Unpickler`` does, so ``STACK_GLOBAL`` operands are the values the
real unpickler would see (memo tricks, ``STRING`` operands, values built by earlier
calls), not the neighbouring opcodes a disassembly-based scanner guesses from.
Imports become :class:`Global` values, calls become :class:`Call` values, and the
:class:`Hooks` receive every event a policy needs to judge. Payloads longer than the
inline limit (tensor bytes) are skipped, not read.

Reference: PEP 307 and PEP 3154 (pickle protocols 2 and 4), PEP 574 (protocol 5);
``pickletools`` supplies the opcode table.
"""

from __future__ import annotations

import codecs
import pickletools
import struct
from collections.abc import Callable
from typing import cast

from trainguard.supplychain.pickle_values import (
    MAX_ITEMS,
    Blob,
    Call,
    Global,
    Hooks,
    Map,
    Opaque,
    Seq,
)
from trainguard.supplychain.reader import Budget, ScanAborted, Source

_LINE_LIMIT = 1 << 16
_HIGHEST_PROTOCOL = 5
OPCODES: dict[int, tuple[str, str | None]] = {
    ord(op.code.encode("latin-1")): (op.name, op.arg.name if op.arg else None)
    for op in pickletools.opcodes
}
"""Opcode byte -> (name, argument kind), from the ``pickletools`` table."""


class Malformed(ScanAborted):
    """The stream is invalid here: the real unpickler stops with an error at this point."""


_STRUCTS = {fmt: struct.Struct(fmt) for fmt in ("<B", "<H", "<i", "<I", "<Q")}


class PickleMachine:
    """Run one pickle symbolically from ``src``; :meth:`run` returns the root value."""

    def __init__(self, src: Source, hooks: Hooks, budget: Budget, *, inline: int) -> None:
        self.src = src
        self.hooks = hooks
        self.budget = budget
        self.inline = inline
        self.proto = 0
        self.stack: list[object] = []
        self.metastack: list[list[object]] = []
        self.memo: dict[int, object] = {}
        self.offset = 0
        self.ops = 0

    # -- argument readers -------------------------------------------------------------
    def _line(self) -> bytes:
        return self.src.readline(_LINE_LIMIT)[:-1]

    def _payload(self, n: int) -> Blob:
        if n < 0:
            raise Malformed(f"negative length {n} at offset {self.offset}")
        at = self.src.tell()
        if n > self.inline:
            self.src.skip(n)
            return Blob(at, n, None)
        return Blob(at, n, self.src.read(n))

    def _decimal(self) -> object:
        line = self._line()
        if line in (b"00", b"01"):
            return line == b"01"
        return self._number(int, line)

    def _utf8(self, data: bytes) -> str:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed(f"import name is not UTF-8 at offset {self.offset}") from None

    def _number(self, kind: Callable[[str], object], line: bytes) -> object:
        try:
            return kind(line.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise Malformed(f"bad number {line[:20]!r} at offset {self.offset}") from None

    def _quoted(self, data: bytes) -> str:
        if len(data) < 2 or data[0] != data[-1] or data[:1] not in (b'"', b"'"):
            raise Malformed(f"STRING argument must be quoted at offset {self.offset}")
        return codecs.escape_decode(data[1:-1])[0].decode("latin-1")

    # -- stack helpers ---------------------------------------------------------------
    def pop(self) -> object:
        """Pop the top value (the stream is malformed if there is none)."""
        if not self.stack:
            raise Malformed(f"stack underflow at offset {self.offset}")
        return self.stack.pop()

    def top(self) -> object:
        """The top value, left in place."""
        if not self.stack:
            raise Malformed(f"empty stack at offset {self.offset}")
        return self.stack[-1]

    def pop_mark(self) -> list[object]:
        """The values pushed since the last MARK; restore the stack below it."""
        if not self.metastack:
            raise Malformed(f"no MARK before offset {self.offset}")
        items = self.stack
        self.stack = self.metastack.pop()
        return items

    def _stop(self, arg: object) -> None:
        """``STOP`` is handled by :meth:`run`."""

    def run(self) -> object:
        """Walk opcodes up to ``STOP``; return the symbolic root value."""
        src, table, budget = self.src, _TABLE, self.budget
        while True:
            self.offset = src.tell()
            code = src.read(1)[0]
            spec = table.get(code)
            if spec is None:
                raise Malformed(f"invalid opcode 0x{code:02x} at offset {self.offset}")
            self.ops += 1
            if self.ops & 1023 == 0:
                budget.tick(1024)
            name, reader, handler = spec
            try:
                arg = reader(self) if reader is not None else None
                if name == "STOP":
                    budget.tick(self.ops & 1023)
                    return self.pop()
                handler(self, arg)
            except (ValueError, OverflowError, struct.error) as exc:  # as the unpickler fails
                raise Malformed(f"{name} at offset {self.offset}: {exc}") from None

    # -- opcodes ---------------------------------------------------------------------
    def _op_PROTO(self, arg: object) -> None:
        if not isinstance(arg, int) or arg > _HIGHEST_PROTOCOL:
            raise Malformed(f"unsupported pickle protocol {arg} at offset {self.offset}")
        self.proto = arg

    def _op_FRAME(self, arg: object) -> None:
        """Frames only hint at buffering; the opcodes inside are walked as usual."""

    def _push(self, arg: object) -> None:
        self.stack.append(arg)

    _op_INT = _op_BININT = _op_BININT1 = _op_BININT2 = _op_LONG = _op_LONG1 = _op_LONG4 = _push
    _op_FLOAT = _op_BINFLOAT = _op_STRING = _op_BINSTRING = _op_SHORT_BINSTRING = _push
    _op_BINBYTES = _op_SHORT_BINBYTES = _op_BINBYTES8 = _op_BYTEARRAY8 = _push
    _op_UNICODE = _op_SHORT_BINUNICODE = _op_BINUNICODE = _op_BINUNICODE8 = _push

    def _op_NONE(self, arg: object) -> None:
        self.stack.append(None)

    def _op_NEWTRUE(self, arg: object) -> None:
        self.stack.append(True)

    def _op_NEWFALSE(self, arg: object) -> None:
        self.stack.append(False)

    def _op_NEXT_BUFFER(self, arg: object) -> None:
        self.hooks.on_opaque("out-of-band buffer", None, self.offset)
        self.stack.append(Opaque("out-of-band buffer"))

    def _op_READONLY_BUFFER(self, arg: object) -> None:
        self.top()

    def _op_EMPTY_TUPLE(self, arg: object) -> None:
        self.stack.append(Seq("tuple"))

    def _tuple(self, items: list[object]) -> None:
        seq = Seq("tuple")
        seq.extend(items)
        self.stack.append(seq)

    def _op_TUPLE(self, arg: object) -> None:
        self._tuple(self.pop_mark())

    def _op_TUPLE1(self, arg: object) -> None:
        self._tuple([self.pop()])

    def _op_TUPLE2(self, arg: object) -> None:
        b, a = self.pop(), self.pop()
        self._tuple([a, b])

    def _op_TUPLE3(self, arg: object) -> None:
        c, b, a = self.pop(), self.pop(), self.pop()
        self._tuple([a, b, c])

    def _op_EMPTY_LIST(self, arg: object) -> None:
        self.stack.append(Seq("list"))

    def _op_LIST(self, arg: object) -> None:
        seq = Seq("list")
        seq.extend(self.pop_mark())
        self.stack.append(seq)

    def _op_EMPTY_SET(self, arg: object) -> None:
        self.stack.append(Seq("set"))

    def _op_FROZENSET(self, arg: object) -> None:
        seq = Seq("frozenset")
        seq.extend(self.pop_mark())
        self.stack.append(seq)

    def _op_EMPTY_DICT(self, arg: object) -> None:
        self.stack.append(Map())

    def _op_DICT(self, arg: object) -> None:
        items = self.pop_mark()
        m = Map()
        m.extend(list(zip(items[::2], items[1::2], strict=False)))
        self.stack.append(m)

    def _add(self, values: list[object], op: str, kinds: tuple[str, ...]) -> None:
        target = self.top()
        if isinstance(target, Seq) and target.kind in kinds:
            target.extend(values)
        else:
            self.hooks.on_mutation(target, op, self.offset)

    def _op_APPEND(self, arg: object) -> None:
        self._add([self.pop()], "APPEND", ("list",))

    def _op_APPENDS(self, arg: object) -> None:
        self._add(self.pop_mark(), "APPENDS", ("list",))

    def _op_ADDITEMS(self, arg: object) -> None:
        self._add(self.pop_mark(), "ADDITEMS", ("set",))

    def _set(self, pairs: list[tuple[object, object]], op: str) -> None:
        target = self.top()
        if isinstance(target, Map):
            target.extend(pairs)
        else:
            self.hooks.on_mutation(target, op, self.offset)

    def _op_SETITEM(self, arg: object) -> None:
        value, key = self.pop(), self.pop()
        self._set([(key, value)], "SETITEM")

    def _op_SETITEMS(self, arg: object) -> None:
        items = self.pop_mark()
        self._set(list(zip(items[::2], items[1::2], strict=False)), "SETITEMS")

    def _op_POP(self, arg: object) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self.pop_mark()

    def _op_POP_MARK(self, arg: object) -> None:
        self.pop_mark()

    def _op_DUP(self, arg: object) -> None:
        self.stack.append(self.top())

    def _op_MARK(self, arg: object) -> None:
        self.metastack.append(self.stack)
        self.stack = []

    def _get(self, arg: object) -> None:
        if not isinstance(arg, int) or arg not in self.memo:
            raise Malformed(f"memo key {arg!r} not found at offset {self.offset}")
        self.stack.append(self.memo[arg])

    _op_GET = _op_BINGET = _op_LONG_BINGET = _get

    def _put(self, arg: object) -> None:
        if not isinstance(arg, int) or arg < 0:
            raise Malformed(f"bad memo key {arg!r} at offset {self.offset}")
        self.memo[arg] = self.top()

    _op_PUT = _op_BINPUT = _op_LONG_BINPUT = _put

    def _op_MEMOIZE(self, arg: object) -> None:
        self.memo[len(self.memo)] = self.top()

    def _ext(self, arg: object) -> None:
        self.hooks.on_opaque("extension code", arg, self.offset)
        self.stack.append(Opaque(f"extension code {arg}"))

    _op_EXT1 = _op_EXT2 = _op_EXT4 = _ext

    def _global(self, module: object, name: object) -> Global:
        if not isinstance(module, str) or not isinstance(name, str):
            raise Malformed(f"import names must be strings at offset {self.offset}")
        g = Global(module, name, self.offset)
        self.hooks.on_global(g, self.proto)
        return g

    def _op_GLOBAL(self, arg: object) -> None:
        module, name = cast(tuple[str, str], arg)
        self.stack.append(self._global(module, name))

    def _op_STACK_GLOBAL(self, arg: object) -> None:
        name, module = self.pop(), self.pop()
        if isinstance(module, Call | Opaque) or isinstance(name, Call | Opaque):
            self.hooks.on_opaque("dynamic import", (module, name), self.offset)
            self.stack.append(Opaque("dynamic import"))
            return
        self.stack.append(self._global(module, name))

    def _call(self, func: object, args: object, kind: str) -> None:
        call = Call(func, args, self.offset, kind)
        self.hooks.on_call(call)
        self.stack.append(call)

    def _op_REDUCE(self, arg: object) -> None:
        args, func = self.pop(), self.pop()
        self._call(func, args, "reduce")

    def _op_NEWOBJ(self, arg: object) -> None:
        args, cls = self.pop(), self.pop()
        self._call(cls, args, "newobj")

    def _op_NEWOBJ_EX(self, arg: object) -> None:
        kwargs, args, cls = self.pop(), self.pop(), self.pop()
        self._call(cls, Seq("tuple", [args, kwargs]), "newobj")

    def _op_INST(self, arg: object) -> None:
        module, name = cast(tuple[str, str], arg)
        items = self.pop_mark()
        self._call(self._global(module, name), Seq("tuple", items[:MAX_ITEMS]), "inst")

    def _op_OBJ(self, arg: object) -> None:
        items = self.pop_mark()
        if not items:
            raise Malformed(f"OBJ without a class at offset {self.offset}")
        self._call(items[0], Seq("tuple", items[1:MAX_ITEMS]), "obj")

    def _op_BUILD(self, arg: object) -> None:
        state = self.pop()
        target = self.top()
        if isinstance(target, Call):
            target.state = state
        self.hooks.on_build(target, state, self.offset)

    def _op_PERSID(self, arg: object) -> None:
        self.hooks.on_opaque("persistent id", arg, self.offset)
        self.stack.append(Opaque("persistent id"))

    def _op_BINPERSID(self, arg: object) -> None:
        pid = self.pop()
        self.hooks.on_opaque("persistent id", pid, self.offset)
        self.stack.append(Opaque("persistent id"))


def _le(data: bytes) -> int:
    return int.from_bytes(data, "little", signed=True)


Reader = Callable[[PickleMachine], object]


def _sized(fmt: str) -> Callable[[PickleMachine], int]:
    unpack, size = _STRUCTS[fmt].unpack, _STRUCTS[fmt].size
    return lambda m: int(unpack(m.src.read(size))[0])


def _blob(fmt: str, then: Callable[[PickleMachine, Blob], object]) -> Reader:
    length = _sized(fmt)
    return lambda m: then(m, m._payload(length(m)))


def _long(m: PickleMachine, blob: Blob) -> object:
    return Opaque("long integer") if blob.data is None else _le(blob.data)


def _latin1(m: PickleMachine, blob: Blob) -> object:
    return Opaque("long string") if blob.data is None else blob.data.decode("latin-1")


def _utf8_text(m: PickleMachine, blob: Blob) -> object:
    if blob.data is None:
        return Opaque(f"string of {blob.length} bytes")
    return blob.data.decode("utf-8", "surrogatepass")


def _keep(m: PickleMachine, blob: Blob) -> object:
    return blob


_READERS: dict[str, Reader] = {
    "uint1": _sized("<B"),
    "uint2": _sized("<H"),
    "int4": _sized("<i"),
    "uint4": _sized("<I"),
    "uint8": _sized("<Q"),
    "decimalnl_short": PickleMachine._decimal,
    "decimalnl_long": lambda m: m._number(int, m._line().rstrip(b"L")),
    "floatnl": lambda m: m._number(float, m._line()),
    "float8": lambda m: float(struct.unpack(">d", m.src.read(8))[0]),
    "long1": _blob("<B", _long),
    "long4": _blob("<i", _long),
    "stringnl": lambda m: m._quoted(m._line()),
    "stringnl_noescape": lambda m: m._line().decode("latin-1"),
    "stringnl_noescape_pair": lambda m: (m._utf8(m._line()), m._utf8(m._line())),
    "string1": _blob("<B", _latin1),
    "string4": _blob("<i", _latin1),
    "bytes1": _blob("<B", _keep),
    "bytes4": _blob("<I", _keep),
    "bytes8": _blob("<Q", _keep),
    "bytearray8": _blob("<Q", _keep),
    "unicodestringnl": lambda m: m._line().decode("raw-unicode-escape"),
    "unicodestring1": _blob("<B", _utf8_text),
    "unicodestring4": _blob("<I", _utf8_text),
    "unicodestring8": _blob("<Q", _utf8_text),
}
_TABLE: dict[int, tuple[str, Reader | None, Callable[[PickleMachine, object], None]]] = {
    code: (
        name,
        _READERS[kind] if kind else None,
        getattr(PickleMachine, f"_op_{name}", PickleMachine._stop),
    )
    for code, (name, kind) in OPCODES.items()
}
"""Opcode byte -> (name, argument reader, handler), shared by all machines."""
