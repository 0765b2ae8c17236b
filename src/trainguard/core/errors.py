"""The trainguard exception tree and the process exit codes.

::

    TrainguardError
    ├── ConfigError              a config file or a parameter is malformed
    │   └── ParameterError       one function argument is out of its domain (also a ValueError)
    ├── DataError                a data file or column is missing or malformed
    ├── ModelError               a model cannot be built, loaded or used as asked
    ├── NotFittedError           a detector or transform was used before ``fit`` (also ValueError)
    ├── PrivacyBudgetExceeded    a release would spend more privacy than the budget holds
    ├── UnsafeArtifact           a file failed a safety check and was not loaded
    ├── IntegrityError           a hash, signature or authentication tag does not match
    ├── PolicyViolation          a data flow is forbidden by a policy
    └── MissingDependency        an optional extra is not installed (names the extra)

Every message is one line that names the field or file and what was expected, so
the command line can print it as is and exit with :data:`EXIT_USAGE`.
"""

from __future__ import annotations

EXIT_OK = 0
"""Everything checked passed."""
EXIT_FAILED = 1
"""A gate failed or a scan found something at or above the failing severity."""
EXIT_USAGE = 2
"""Bad input: a missing file, a malformed config, an unknown name."""


class TrainguardError(Exception):
    """Root of every error trainguard raises on purpose."""


class ConfigError(TrainguardError):
    """A configuration file or option is malformed or has a wrong value."""


class ParameterError(ConfigError, ValueError):
    """A function argument is outside the domain the function accepts."""


class DataError(TrainguardError):
    """A data set, file or column is missing or not in the expected form."""


class ModelError(TrainguardError):
    """A model cannot be built, loaded or used in the way asked."""


class NotFittedError(TrainguardError, ValueError, AttributeError):
    """An estimator was used before :meth:`fit` was called."""


class PrivacyBudgetExceeded(TrainguardError):
    """Releasing a result would spend more privacy than the budget allows."""


class UnsafeArtifact(TrainguardError):
    """An artifact failed a safety check and was not loaded."""


class IntegrityError(TrainguardError):
    """A digest, signature or authentication tag does not match the data."""


class PolicyViolation(TrainguardError):
    """A data flow or action is forbidden by the active policy."""


class MissingDependency(TrainguardError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


def require(module: str, extra: str) -> None:
    """Raise :class:`MissingDependency` unless ``module`` can be imported.

    Parameters
    ----------
    module
        Importable module name, for example ``"opacus"``.
    extra
        The trainguard extra that installs it, for example ``"privacy"``.
    """
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise MissingDependency(
            f"this feature needs the '{module}' package: pip install 'trainguard[{extra}]'"
        )
