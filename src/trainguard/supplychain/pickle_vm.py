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


def _u(fmt: str, src: Source, n: int) -> int:
    return int(struct.unpack(fmt, src.read(n))[0])


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
        readers = self._readers()
        self._table: dict[int, tuple[str, Callable[[], object] | None, Callable[[object], None]]]
        self._table = {
            code: (name, readers[kind] if kind else None, getattr(self, f"_op_{name}", self._stop))
            for code, (name, kind) in OPCODES.items()
        }

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

    def _text(self, n: int) -> object:
        blob = self._payload(n)
        if blob.data is None:
            return Opaque(f"string of {n} bytes")
        return blob.data.decode("utf-8", "surrogatepass")

    def _readers(self) -> dict[str, Callable[[], object]]:
        src = self.src

        def sized(fmt: str, n: int) -> Callable[[], int]:
            return lambda: _u(fmt, src, n)

        def long_int(fmt: str, n: int) -> Callable[[], object]:
            def read() -> object:
                blob = self._payload(_u(fmt, src, n))
                return Opaque("long integer") if blob.data is None else _le(blob.data)

            return read

        def old_string(fmt: str, n: int) -> Callable[[], object]:
            def read() -> object:
                blob = self._payload(_u(fmt, src, n))
                return Opaque("long string") if blob.data is None else blob.data.decode("latin-1")

            return read

        return {
            "uint1": sized("<B", 1),
            "uint2": sized("<H", 2),
            "int4": sized("<i", 4),
            "uint4": sized("<I", 4),
            "uint8": sized("<Q", 8),
            "decimalnl_short": self._decimal,
            "decimalnl_long": lambda: self._number(int, self._line().rstrip(b"L")),
            "floatnl": lambda: self._number(float, self._line()),
            "float8": lambda: float(struct.unpack(">d", src.read(8))[0]),
            "long1": long_int("<B", 1),
            "long4": long_int("<i", 4),
            "stringnl": lambda: self._quoted(self._line()),
            "stringnl_noescape": lambda: self._line().decode("latin-1"),
            "stringnl_noescape_pair": lambda: (self._utf8(self._line()), self._utf8(self._line())),
            "string1": old_string("<B", 1),
            "string4": old_string("<i", 4),
            "bytes1": lambda: self._payload(_u("<B", src, 1)),
            "bytes4": lambda: self._payload(_u("<I", src, 4)),
            "bytes8": lambda: self._payload(_u("<Q", src, 8)),
            "bytearray8": lambda: self._payload(_u("<Q", src, 8)),
            "unicodestringnl": lambda: self._line().decode("raw-unicode-escape"),
            "unicodestring1": lambda: self._text(_u("<B", src, 1)),
            "unicodestring4": lambda: self._text(_u("<I", src, 4)),
            "unicodestring8": lambda: self._text(_u("<Q", src, 8)),
        }

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
        src, table, tick = self.src, self._table, self.budget.tick
        while True:
            self.offset = src.tell()
            code = src.read(1)[0]
            spec = table.get(code)
            if spec is None:
                raise Malformed(f"invalid opcode 0x{code:02x} at offset {self.offset}")
            tick()
            self.ops += 1
            name, reader, handler = spec
            arg = reader() if reader is not None else None
            if name == "STOP":
                return self.pop()
            handler(arg)

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
