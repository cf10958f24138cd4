"""Errors datacanary raises, each naming the problem and the fix.

Every error subclasses :class:`DatacanaryError` and a builtin, so callers can catch
either (``except ValueError`` keeps working around datacanary calls)::

    DatacanaryError(Exception)
    ├── ConfigError(ValueError)          a bad definition: unknown method, out-of-range parameter,
    │                                    malformed monitor YAML
    ├── InputError(ValueError)           bad data: empty table, no usable column, unreadable file
    │   ├── SourceNotFoundError(FileNotFoundError)   a path or table that does not exist
    │   ├── ColumnNotFoundError(KeyError)            a column name that is not in the table
    │   └── NotEnoughDataError                       too few rows/values for the method
    ├── StoreError(RuntimeError)         the history store cannot be read or written
    │   └── StoreLockedError             another process holds the embedded store
    ├── DeliveryError(ConnectionError)   an alert sink could not deliver after its retries
    └── MissingDependencyError(ImportError)  an optional extra is not installed

The CLI turns any of these into one line on stderr and exit code 2; nothing else is caught
there, so a bug still shows its traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ColumnNotFoundError",
    "ConfigError",
    "DatacanaryError",
    "DeliveryError",
    "InputError",
    "MissingDependencyError",
    "NotEnoughDataError",
    "SourceNotFoundError",
    "StoreError",
    "StoreLockedError",
]


class DatacanaryError(Exception):
    """Base of every error datacanary raises on purpose."""


class ConfigError(DatacanaryError, ValueError):
    """A definition is wrong: a parameter, a method name, a monitor file."""


class InputError(DatacanaryError, ValueError):
    """The data cannot be used as given."""


class SourceNotFoundError(InputError, FileNotFoundError):
    """A file, glob or table named as a source does not exist."""


class ColumnNotFoundError(InputError, KeyError):
    """Columns were named that the table does not have.

    >>> str(ColumnNotFoundError.from_missing(["amout"], ["amount", "country"]))
    "column 'amout' not found; did you mean 'amount'? available: amount, country"
    >>> str(ColumnNotFoundError.from_missing(["x"], ["a"]))
    "column 'x' not found; available: a"
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""

    @classmethod
    def from_missing(cls, missing: Iterable[str], available: Iterable[str]) -> ColumnNotFoundError:
        missing = list(missing)
        available = [str(c) for c in available]
        noun = "column" if len(missing) == 1 else "columns"
        message = f"{noun} {', '.join(repr(m) for m in missing)} not found"
        hints = [h for m in missing for h in difflib.get_close_matches(str(m), available, n=1)]
        if hints:
            message += f"; did you mean {', '.join(repr(h) for h in hints)}?"
        else:
            message += ";"
        shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
        return cls(f"{message} available: {shown}")


class NotEnoughDataError(InputError):
    """Too few rows or values for the requested method."""


class StoreError(DatacanaryError, RuntimeError):
    """The metric-history store cannot be opened, migrated, read or written."""


class StoreLockedError(StoreError):
    """Another process holds the embedded (DuckDB) store's write lock."""


class DeliveryError(DatacanaryError, ConnectionError):
    """An alert sink did not accept an alert within its retries and time bound."""


class MissingDependencyError(DatacanaryError, ImportError):
    """An optional extra is needed; the message carries the install command.

    >>> str(MissingDependencyError.for_extra("pyod", "PyOD detectors"))
    "PyOD detectors need the 'pyod' extra: pip install 'datacanary[pyod]'"
    """

    @classmethod
    def for_extra(cls, extra: str, what: str) -> MissingDependencyError:
        return cls(f"{what} need the {extra!r} extra: pip install 'datacanary[{extra}]'")
