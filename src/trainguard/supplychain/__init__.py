"""Supply chain: model-file scanning, vulnerability audit, SBOM, encrypted artifacts.

Scan model files without unpickling them, audit installed packages against OSV
advisories, describe the environment as a CycloneDX SBOM, and encrypt model artifacts.

The scanner (:func:`scan_file`, :func:`scan_path`) walks pickles opcode by opcode
against an allow-list, inside PyTorch zips and legacy files, joblib, NumPy, safetensors,
Keras and ONNX files, with bounded time and memory.
"""

from trainguard.supplychain.allowlist import EXTENSIONS, AllowPolicy
from trainguard.supplychain.reader import ScanLimits
from trainguard.supplychain.report import FileReport, ScanIssue, ScanReport
from trainguard.supplychain.scanner import scan_file, scan_path

__all__ = [
    "EXTENSIONS",
    "AllowPolicy",
    "FileReport",
    "ScanIssue",
    "ScanLimits",
    "ScanReport",
    "scan_file",
    "scan_path",
]
