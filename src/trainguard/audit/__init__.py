"""Data-set quality checks for the data audit: exact and near duplicates, likely label errors."""

from trainguard.audit.duplicates import DuplicateReport, find_duplicates
from trainguard.audit.label_errors import LabelErrorReport, find_label_errors

__all__ = ["DuplicateReport", "LabelErrorReport", "find_duplicates", "find_label_errors"]
