"""Which pickle globals a model file may reference: an allow-list, not a block-list.

Every ``GLOBAL``/``STACK_GLOBAL``/``INST`` target is judged here:

* on the **allow-list** (what tensors, state dicts and NumPy arrays need: torch rebuild
  helpers, storages and dtypes, ``collections.OrderedDict``, NumPy reconstruction,
  builtins that build plain data) -> no finding;
* allowed by an **opt-in extension** the caller names (``"sklearn"``,
  ``"torch-modules"``, or an exact ``"module:Name"``) -> severity *low*, so the report
  still says the file carries code-bearing objects;
* on the list of **known-dangerous** callables (``os``, ``subprocess``, ``builtins.eval``,
  ``getattr``, ``importlib``, ``runpy``, ...) or reaching through ``__dunder__``
  attributes -> *critical*;
* anything else -> *high*: not known to be needed by a checkpoint.

The block-list only raises the severity; it never lets anything through. The public
history of picklescan bypasses (callables it had not listed: ``runpy``, ``cProfile``,
``pydoc.locate``, ``ensurepip._run_pip``, submodules of listed modules) is what the
allow-list defeats. The torch part mirrors ``torch._weights_only_unpickler``.
"""

from __future__ import annotations

import _compat_pickle
import importlib
import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from trainguard.core.errors import ConfigError
from trainguard.core.findings import Severity

_TORCH_TYPES = re.compile(
    r"(BFloat16|Bool|Byte|Char|ComplexDouble|ComplexFloat|Double|Float|Half|Int|Long|Short"
    r"|QInt32|QInt8|QUInt2x4|QUInt4x2|QUInt8)(Storage|Tensor)"
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_NUMPY_SCALARS = re.compile(
    r"u?int(8|16|32|64)|float(16|32|64|128)|complex(64|128|256)|bool_?|c?longdouble|u?intc"
    r"|u?intp|u?longlong|half|single|double|str_|bytes_|datetime64|timedelta64"
)
_TORCH_SCALARS = _words(
    "bfloat16 bits16 bits1x8 bits2x4 bits4x2 bits8 bool complex128 complex32 "
    "complex64 float16 float32 float4_e2m1fn_x2 float64 float8_e4m3fn "
    "float8_e4m3fnuz float8_e5m2 float8_e5m2fnuz float8_e8m0fnu int16 int32 int64 "
    "int8 qint32 qint8 quint2x4 quint4x2 quint8 uint16 uint32 uint64 uint8 uint1 "
    "uint2 uint3 uint4 uint5 uint6 uint7 int1 int2 int3 int4 int5 int6 int7 "
    "strided sparse_coo sparse_csr sparse_csc sparse_bsr sparse_bsc _mkldnn "
    "jagged contiguous_format channels_last channels_last_3d preserve_format "
    "per_tensor_affine per_tensor_symmetric per_channel_affine "
    "per_channel_symmetric per_channel_affine_float_qparams Size device Tensor"
)

SAFE_GLOBALS: dict[str, frozenset[str]] = {
    "builtins": _words(
        "set frozenset bytearray bytes complex slice range object int float bool str "
        "tuple list dict"
    ),
    "_codecs": frozenset({"encode"}),
    "collections": frozenset({"OrderedDict", "defaultdict", "Counter", "deque"}),
    "copyreg": frozenset({"_reconstructor"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "numpy": frozenset({"dtype", "ndarray"}),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma.core": frozenset({"_mareconstruct", "MaskedArray"}),
    "numpy.random._pickle": frozenset(
        {"__randomstate_ctor", "__generator_ctor", "__bit_generator_ctor"}
    ),
    "numpy.random.bit_generator": frozenset({"__pyx_unpickle_SeedSequence", "SeedSequence"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "numpy.random._generator": frozenset({"Generator"}),
    "numpy.random._pcg64": frozenset({"PCG64", "PCG64DXSM"}),
    "numpy.random._mt19937": frozenset({"MT19937"}),
    "numpy.random._philox": frozenset({"Philox"}),
    "numpy.random._sfc64": frozenset({"SFC64"}),
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "torch._utils": _words(
        "_rebuild_tensor _rebuild_tensor_v2 _rebuild_tensor_v3 _rebuild_parameter "
        "_rebuild_parameter_with_state _rebuild_qtensor _rebuild_sparse_tensor "
        "_rebuild_meta_tensor_no_storage _rebuild_nested_tensor "
        "_rebuild_wrapper_subclass _rebuild_device_tensor_from_numpy "
        "_rebuild_device_tensor_from_cpu_tensor"
    ),
    "torch._tensor": frozenset({"_rebuild_from_type_v2"}),
    "torch.nn.parameter": frozenset({"Parameter"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage", "_load_from_bytes"}),
    "torch.jit._pickle": _words(
        "build_intlist build_tensorlist build_doublelist build_boollist build_tensor_from_id "
        "restore_type_tag"
    ),
}
"""Exact ``module -> names`` a checkpoint may reference without a finding."""

_DANGEROUS_MODULES = _words(
    "os posix nt _posixsubprocess subprocess pty shutil socket ssl http urllib "
    "requests httpx aiohttp ftplib smtplib telnetlib imaplib poplib webbrowser "
    "antigravity runpy importlib pkgutil zipimport code codeop pydoc pdb bdb "
    "cProfile profile timeit trace ctypes cffi marshal pickle _pickle cPickle "
    "dill cloudpickle shelve sys types asyncio multiprocessing concurrent "
    "threading _thread signal tempfile glob linecache io _io tarfile zipfile pip "
    "ensurepip venv distutils setuptools site sysconfig idlelib lib2to3 doctest "
    "test unittest numpy.f2py numpy.testing numpy.ctypeslib numpy.distutils "
    "torch.hub torch.jit torch.package torch.utils.cpp_extension torch._inductor "
    "torch._dynamo torch.fx torch.utils.collect_env torch.utils.bottleneck "
    "torch.utils._config_module torch.utils.data.datapipes torch.distributed yaml "
    "_osx_support _aix_support _pyrepl platform inspect gc tkinter turtle mailcap "
    "pipes commands popen2"
)
_DANGEROUS_NAMES: dict[str, frozenset[str]] = {
    "builtins": _words(
        "eval exec compile getattr setattr delattr __import__ open globals locals "
        "vars breakpoint input exit quit help memoryview"
    ),
    "operator": frozenset({"attrgetter", "methodcaller", "itemgetter", "call"}),
    "_operator": frozenset({"attrgetter", "methodcaller", "itemgetter", "call"}),
    "functools": frozenset({"partial", "reduce", "partialmethod"}),
    "numpy": frozenset({"load", "loads", "fromfile", "frompyfunc", "vectorize"}),
    "numpy.lib.npyio": frozenset({"load"}),
    "torch": frozenset({"load", "compile"}),
    "torch.serialization": frozenset({"load"}),
    "joblib": frozenset({"load"}),
    "joblib.numpy_pickle": frozenset({"load"}),
    "pandas": frozenset({"read_pickle", "eval"}),
    "pandas.io.pickle": frozenset({"read_pickle"}),
    "codecs": frozenset({"open"}),
    "logging": frozenset({"FileHandler"}),
    "uuid": frozenset({"_get_command_stdout", "_popen", "_find_mac", "_find_mac_near_keyword"}),
}
_DUNDER = re.compile(r"(^|\.)__\w+__($|\.)")
_IDENT = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class Verdict:
    """How one global is judged: ``severity`` is ``None`` when it is allowed silently."""

    severity: Severity | None
    check_id: str
    reason: str


ALLOWED = Verdict(None, "allowed-global", "on the checkpoint allow-list")


def _under(module: str, prefixes: frozenset[str]) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:i]) in prefixes for i in range(1, len(parts) + 1))


def is_dangerous(module: str, name: str) -> bool:
    """Whether ``module.name`` is a known code-execution, file or network primitive."""
    if _DUNDER.search(name):
        return True
    parts = name.split(".")
    for k in range(len(parts)):  # protocol 4 resolves dotted names attribute by attribute
        mod = ".".join([module, *parts[:k]])
        if _under(mod, _DANGEROUS_MODULES) or parts[k] in _DANGEROUS_NAMES.get(mod, ()):
            return True
    return False


def _is_safe(module: str, name: str) -> bool:
    if name in SAFE_GLOBALS.get(module, frozenset()):
        return True
    if module in ("torch", "torch.cuda") and _TORCH_TYPES.fullmatch(name):
        return True
    if module == "numpy" and _NUMPY_SCALARS.fullmatch(name):
        return True
    return module == "torch" and name in _TORCH_SCALARS


def _resolve(module: str, name: str) -> object | None:
    """Import an installed module named by an extension and fetch ``name`` (no dots)."""
    if not _IDENT.match(module) or not _IDENT.match(name) or "." in name:
        return None
    try:
        return getattr(importlib.import_module(module), name, None)
    except Exception:  # an installed module failing to import is simply not allowed
        return None


_NOT_MODELS = re.compile(r"(^|\.)(tests?|_testing|_mocking|conftest|datasets)(\.|$)")


def _sklearn_ok(module: str, name: str) -> bool:
    if module.split(".")[0] not in ("sklearn", "scipy") or _NOT_MODELS.search(module):
        return False
    if module.startswith("sklearn.") and re.fullmatch(r"__pyx_unpickle_\w+", name):
        return True
    obj = _resolve(module, name)
    if not inspect.isclass(obj) or issubclass(obj, BaseException):
        return False
    home = obj.__module__
    if module.startswith("scipy."):
        return module.startswith("scipy.sparse.") and home.startswith("scipy.sparse")
    return home.startswith("sklearn.") and not _NOT_MODELS.search(home)


def _torch_modules_ok(module: str, name: str) -> bool:
    if not module.startswith("torch.nn.modules."):
        return False
    obj = _resolve(module, name)
    import torch

    return inspect.isclass(obj) and issubclass(obj, torch.nn.Module)


EXTENSIONS: dict[str, Callable[[str, str], bool]] = {
    "sklearn": _sklearn_ok,
    "torch-modules": _torch_modules_ok,
}
"""Opt-in allow-list extensions by name: each accepts ``(module, name)`` or not.

``sklearn`` accepts classes defined in scikit-learn (estimators, their fitted
helpers such as ``_CalibratedClassifier``, Cython types such as ``Tree``), the
``__pyx_unpickle_*`` helpers of its compiled modules, and ``scipy.sparse`` matrix
classes; never functions (``sklearn.utils._testing.assert_run_python_script_without_output``
runs a subprocess) nor anything from its test, mocking or dataset-download modules.
``torch-modules`` accepts ``torch.nn`` layer classes (whole-model pickles).
"""


def _canonical(module: str, name: str, proto: int) -> tuple[str, str]:
    """The name the unpickler imports: Python 2 names map for protocols below 3."""
    if proto < 3:
        if (module, name) in _compat_pickle.NAME_MAPPING:
            return _compat_pickle.NAME_MAPPING[(module, name)]
        if module in _compat_pickle.IMPORT_MAPPING:
            return _compat_pickle.IMPORT_MAPPING[module], name
    return module, name


class AllowPolicy:
    """Judge pickle globals against the allow-list plus the caller's extensions.

    Parameters
    ----------
    allow
        Extension names from :data:`EXTENSIONS` and exact globals written
        ``"module:Name"`` that the caller trusts; each allowed this way is reported
        at severity *low*.
    """

    def __init__(self, allow: Iterable[str] = ()) -> None:
        self.allow = tuple(sorted(set(allow)))
        self._exact: set[tuple[str, str]] = set()
        self._extensions: list[tuple[str, Callable[[str, str], bool]]] = []
        for item in self.allow:
            if item in EXTENSIONS:
                self._extensions.append((item, EXTENSIONS[item]))
            elif ":" in item and all(_IDENT.match(p) for p in item.split(":", 1)):
                mod, nm = item.split(":", 1)
                self._exact.add((mod, nm))
            else:
                known = ", ".join(sorted(EXTENSIONS))
                raise ConfigError(
                    f"allow entry {item!r} is neither an extension ({known}) "
                    "nor a global written 'module:Name'"
                )
        self.judge = lru_cache(maxsize=4096)(self._judge)

    def _judge(self, module: str, name: str, proto: int = 4) -> Verdict:
        mod, nm = _canonical(module, name, proto)
        if _is_safe(mod, nm):  # exact, vetted pairs: checked first
            return ALLOWED
        if is_dangerous(module, name) or is_dangerous(mod, nm):
            return Verdict(
                Severity.CRITICAL, "unsafe-global", "known code-execution/file/network callable"
            )
        if (mod, nm) in self._exact:
            return Verdict(Severity.LOW, "extension-global", "allowed by the caller")
        for ext, accepts in self._extensions:
            if accepts(mod, nm):
                return Verdict(
                    Severity.LOW, "extension-global", f"allowed by the '{ext}' extension"
                )
        return Verdict(Severity.HIGH, "unknown-global", "not on the checkpoint allow-list")
