"""Regression tests for published pickle-scanner bypasses (picklescan and fickling).

Each payload is rebuilt opcode by opcode from the advisory; the arguments are harmless
strings and no file is ever loaded. Sources: picklescan ``tests/init_data_files.py``
and GitHub security advisories (GHSA-*), fickling ``test/test_bypasses.py``, JFrog's
CVE-2025-10155/10156/10157 write-up.
"""

from __future__ import annotations

import io
import pickle
import zipfile

import pytest
from tests.supplychain.sc_craft import (
    BUILD,
    EMPTY_TUPLE,
    MARK,
    MEMOIZE,
    POP,
    PROTO4,
    REDUCE,
    STACK_GLOBAL,
    STOP,
    TUPLE,
    TUPLE1,
    TUPLE2,
    call,
    getpid_pickle,
    glob,
    pickled,
    sbu,
    stack_global,
)

from trainguard.core.findings import Severity
from trainguard.supplychain import scan_file


def scan_bytes(tmp_path, data: bytes, name: str = "model.pkl"):
    p = tmp_path / name
    p.write_bytes(data)
    return scan_file(p)


def checks(report) -> set[tuple[str, str | None]]:
    return {(i.check_id, f"{i.module}.{i.name}" if i.module else None) for i in report.issues}


# -- callables missing from block-lists: the allow-list rejects all of them -----------
UNLISTED = [
    ("runpy", "_run_code"),  # picklescan malicious14
    ("runpy", "run_path"),  # fickling GHSA-wfq2-52f7-7qvj
    ("cProfile", "run"),  # GHSA-49gj-c84q-6qm9, fickling GHSA-p523-jq9w-64x9
    ("cProfile", "runctx"),  # GHSA-9w88-8rmg-7g2p
    ("pty", "spawn"),  # GHSA-vqmv-47xg-9wpr, fickling GHSA-r7v6-mfhq-g3m2
    ("pydoc", "locate"),  # fickling GHSA-5hvc-6wx8-mvv4
    ("pydoc", "pipepager"),  # picklescan malicious18
    ("timeit", "timeit"),  # picklescan malicious21
    ("ensurepip", "_run_pip"),  # GHSA-xp4f-hrf8-rxw7
    ("pkgutil", "resolve_name"),  # GHSA-vvpj-8cmc-gx39 (universal bypass)
    ("multiprocessing.util", "spawnv_passfds"),  # fickling GHSA-q5qq-mvfm-j35x
    ("ctypes", "CDLL"),  # GHSA-4675-36f9-wf6r
    ("numpy.f2py.crackfortran", "getlincoef"),  # GHSA-r8g5-cgf2-4m4m
    ("numpy.testing._private.utils", "runstring"),  # picklescan malicious22
    ("distutils.file_util", "write_file"),  # GHSA-m273-6v24-x4m4
    ("asyncio.unix_events", "_UnixSubprocessTransport._start"),  # CVE-2025-10157
    ("torch.utils.collect_env", "run"),  # GHSA-f745-w6jp-hpxx
    ("torch.utils._config_module", "ConfigModule.load_config"),  # GHSA-vv6j-3g6g-2pvj
    ("torch._inductor.codecache", "compile_file"),  # picklescan malicious17
    ("idlelib.pyshell", "ModifiedInterpreter.runcode"),  # GHSA-3gf5-cxq9-w223
    ("lib2to3.pgen2.pgen", "ParserGenerator.make_label"),  # GHSA-p9w7-82w4-7q8m
    ("trace", "Trace.run"),  # GHSA-5qwp-399c-mjwf
    ("doctest", "debug_script"),  # GHSA-fqq6-7vqf-w3fg
    ("code", "InteractiveInterpreter.runcode"),  # GHSA-cj3c-v495-4xqh
    ("_io", "FileIO"),  # picklescan io_FileIO
    ("urllib.request", "urlopen"),  # picklescan urllib_request_urlopen
    ("ssl", "get_server_certificate"),  # picklescan dns_exfiltration
    ("bdb", "Bdb.run"),  # picklescan malicious15
    ("venv", "create"),  # picklescan malicious20
    ("pip", "main"),  # picklescan malicious16
]


@pytest.mark.parametrize(("module", "name"), UNLISTED)
def test_callables_once_missing_from_blocklists_are_critical(tmp_path, module, name):
    report = scan_bytes(tmp_path, pickled(call(module, name, "id")))
    assert report.max_severity == Severity.CRITICAL
    assert ("unsafe-global", f"{module}.{name}") in checks(report)


def test_a_callable_no_list_knows_is_still_rejected(tmp_path):
    # the point of an allow-list: a module nobody has thought of yet
    report = scan_bytes(tmp_path, pickled(call("somepkg.helpers", "run_later", "id")))
    assert report.max_severity == Severity.HIGH
    assert ("unknown-global", "somepkg.helpers.run_later") in checks(report)
    assert not report.passed


def test_memo_indirection_for_stack_global(tmp_path):
    """picklescan issue #22 (malicious11): memoised strings fetched out of order."""
    data = b"".join(
        [
            b"Vos\np2\n0",
            b"Vsystem\np3\n0",
            b"Vtorch\np0\n0",
            b"VLongStorage\np1\n0",
            b"g2\ng3\n",
            STACK_GLOBAL,
            MARK + b"Vcat flag.txt\n" + TUPLE + REDUCE + STOP,
        ]
    )
    report = scan_bytes(tmp_path, data)
    assert ("unsafe-global", "os.system") in checks(report)
    assert ("unknown-global", "torch.LongStorage") not in checks(report)


def test_stack_global_with_string_opcodes(tmp_path):
    """GHSA-9gvj-pp9x-gcfr (malicious23): STRING operands for STACK_GLOBAL."""
    data = b"S'os'\nS'system'\n" + STACK_GLOBAL + b"S'ls'\n" + TUPLE1 + REDUCE + STOP
    assert ("unsafe-global", "os.system") in checks(scan_bytes(tmp_path, data))


def test_call_before_a_failing_memo_lookup(tmp_path):
    """picklescan keyerror-exploit: os.system runs, then a missing memo key aborts."""
    data = (
        PROTO4
        + glob("os", "system")
        + sbu("echo pwned")
        + TUPLE1
        + REDUCE
        + POP
        + sbu("os")
        + MEMOIZE
        + b"h\x03h\x00"
        + STACK_GLOBAL
        + STOP
    )
    report = scan_bytes(tmp_path, data)
    assert ("unsafe-global", "os.system") in checks(report)
    assert any(i.check_id == "unscannable" and "memo key 3" in i.message for i in report.issues)


def test_type_confused_stack_global(tmp_path):
    """picklescan type-confusion-exploit: an int where STACK_GLOBAL wants a string."""
    data = (
        PROTO4
        + glob("os", "system")
        + sbu("x")
        + TUPLE1
        + REDUCE
        + POP
        + b"J\x2a\x00\x00\x00"
        + MEMOIZE
        + sbu("os")
        + MEMOIZE
        + b"h\x00h\x01"
        + STACK_GLOBAL
        + STOP
    )
    report = scan_bytes(tmp_path, data)
    assert report.max_severity == Severity.CRITICAL
    assert not report.files[0].complete


def test_truncated_stream_still_reports_what_it_reached(tmp_path):
    """picklescan broken_model: a call with no STOP and a length running off the end."""
    data = b"cbuiltins\nexec\n(X>\nf = open('my_file.txt', 'a'); f.close()tRX."
    report = scan_bytes(tmp_path, data)
    assert ("unsafe-global", "builtins.exec") in checks(report)
    assert not report.files[0].complete


def test_getattr_chain_through_attrgetter(tmp_path):
    """picklescan malicious12: operator.attrgetter('system')(__import__('os'))."""
    data = PROTO4 + b"".join(
        [
            call("operator", "attrgetter", "system"),
            MEMOIZE,
            call("builtins", "__import__", "os"),
            TUPLE1,
            REDUCE,
            MEMOIZE,
            sbu("echo pwned"),
            TUPLE1,
            REDUCE,
            STOP,
        ]
    )
    found = checks(scan_bytes(tmp_path, data))
    assert ("unsafe-global", "operator.attrgetter") in found
    assert ("unsafe-global", "builtins.__import__") in found
    assert ("computed-callable", None) in found


def test_builtins_getattr_reaching_importlib(tmp_path):
    """fickling GHSA-q5qq-mvfm-j35x: getattr(import_module('os'), 'system')('id')."""
    data = PROTO4 + b"".join(
        [
            stack_global("builtins", "getattr"),
            call("importlib", "import_module", "os"),
            sbu("system"),
            TUPLE2,
            REDUCE,
            sbu("id"),
            TUPLE1,
            REDUCE,
            STOP,
        ]
    )
    found = checks(scan_bytes(tmp_path, data))
    assert {
        ("unsafe-global", "builtins.getattr"),
        ("unsafe-global", "importlib.import_module"),
    } <= found
    assert ("computed-callable", None) in found


def test_marshal_code_and_function_type(tmp_path):
    """fickling GHSA-565g-hwwr-4pp3: marshal.loads + types.FunctionType."""
    data = PROTO4 + b"".join(
        [
            stack_global("marshal", "loads"),
            b"C\x02\xe3\x00" + TUPLE1 + REDUCE,
            POP,
            stack_global("types", "FunctionType"),
            EMPTY_TUPLE,
            REDUCE,
            STOP,
        ]
    )
    found = checks(scan_bytes(tmp_path, data))
    assert {("unsafe-global", "marshal.loads"), ("unsafe-global", "types.FunctionType")} <= found


def test_python2_builtin_names_and_inst(tmp_path):
    """picklescan malicious10 (INST) and Sour Pickles' __builtin__ names."""
    report = scan_bytes(tmp_path, b"(S'raise RuntimeError(\"x\")'\ni__builtin__\nexec\n.")
    assert ("unsafe-global", "__builtin__.exec") in checks(report)


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("torch", "serialization.load"),  # dotted name resolved attribute by attribute
        ("collections", "OrderedDict.__init__.__globals__"),  # reaching through dunders
    ],
)
def test_dotted_names_do_not_hide_dangerous_targets(tmp_path, module, name):
    report = scan_bytes(tmp_path, pickled(call(module, name, "x")))
    assert report.max_severity == Severity.CRITICAL


def test_computed_import_names(tmp_path):
    """STACK_GLOBAL whose operands are produced by a call at load time."""
    data = PROTO4 + call("builtins", "str", "os") + sbu("system") + STACK_GLOBAL + STOP
    assert ("dynamic-import", None) in checks(scan_bytes(tmp_path, data))


def test_build_on_an_imported_object_is_flagged(tmp_path):
    data = pickled(stack_global("collections", "OrderedDict") + b"}" + BUILD)
    assert ("global-mutation", None) in checks(scan_bytes(tmp_path, data))


def test_extension_registry_codes_are_flagged(tmp_path):
    data = PROTO4 + b"\x82\x07" + EMPTY_TUPLE + REDUCE + STOP
    report = scan_bytes(tmp_path, data)
    assert ("opaque-value", None) in checks(report)
    assert report.max_severity >= Severity.HIGH


def test_second_pickle_in_the_same_file(tmp_path):
    """picklescan malicious6: a benign pickle followed by a malicious one."""
    data = pickle.dumps(["a", "b"]) + getpid_pickle()
    report = scan_bytes(tmp_path, data)
    assert report.max_severity == Severity.CRITICAL


def test_pickle_with_a_misleading_name_is_scanned_by_content(tmp_path):
    """CVE-2025-10155: a pickle renamed to a non-pickle extension."""
    for name in ("model.bin", "weights.txt", "image.png"):
        assert scan_bytes(tmp_path, getpid_pickle(), name).max_severity == Severity.CRITICAL


def _zip(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, data)
    return buf.getvalue()


def test_zip_member_with_a_wrong_crc(tmp_path):
    """CVE-2025-10156: torch ignores the CRC, so a corrupted member still loads."""
    evil = pickled(call("builtins", "eval", "print('456')"))
    data = _zip("archive/data.pkl", evil).replace(b"print('456')", b"print('123')", 1)
    report = scan_bytes(tmp_path, data, "model.pt")
    assert ("unsafe-global", "builtins.eval") in checks(report)


def test_zip_central_directory_renames_the_member(tmp_path):
    """picklescan malicious1_central_directory: local and central names differ."""
    data = _zip("data.pkl", getpid_pickle()).replace(b"data.pkl", b"datap.kl", 1)
    found = checks(scan_bytes(tmp_path, data, "model.zip"))
    assert ("archive-mismatch", None) in found
    assert any(c == "unsafe-global" for c, _ in found)


def test_pickle_member_with_an_unusual_name(tmp_path):
    """picklescan malicious1_wrong_ext: the pickle is data.txt inside the zip."""
    found = checks(scan_bytes(tmp_path, _zip("data.txt", getpid_pickle()), "model.zip"))
    assert any(c == "unsafe-global" for c, _ in found)


def test_polyglot_pickle_with_a_zip_appended(tmp_path):
    benign_zip = _zip("notes.txt", b"hello")
    report = scan_bytes(tmp_path, getpid_pickle() + benign_zip, "model.pt")
    assert report.max_severity == Severity.CRITICAL
    assert {"pickle", "zip"} <= set(report.files[0].formats)
