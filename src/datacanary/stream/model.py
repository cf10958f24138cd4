"""Row models on disk, in a format whose loading runs no code: a Parquet file.

A stream model is the detector's parameters plus the rows it was trained on. Loading it
reads data (a Parquet table and a JSON document in the file's metadata) and fits the
detector again with the saved ``random_state``, so the loaded detector is the one that was
saved: no pickle, so opening a model file from someone else cannot run their code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from datacanary.errors import InputError, SourceNotFoundError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMAT", "StreamModel", "load_model", "model_bytes", "read_model_bytes", "save_model"]

FORMAT = "datacanary.stream-model/1"
"""The version tag stored in a model file; a breaking change bumps the number."""
_KEY = b"datacanary.model"


@dataclass(frozen=True)
class StreamModel:
    """What a model file holds: how to build the row detector and what to fit it on.

    ``schema`` maps each feature field to ``number``, ``text`` or ``bool``; ``params`` are
    the detector's keyword arguments (method, contamination, random_state).
    """

    training: pd.DataFrame
    schema: Mapping[str, str]
    params: Mapping[str, Any] = field(default_factory=dict)
    created: str = ""


def save_model(path: str | Path, model: StreamModel) -> Path:
    """Write ``model`` to the Parquet file ``path`` (overwritten); return the path.

    The file holds the training rows, so treat it like the data it came from.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> model = StreamModel(pd.DataFrame({"amount": [1.0, 2.0]}), {"amount": "number"},
    ...                     {"method": "iforest", "contamination": "auto", "random_state": 0})
    >>> path = save_model(pathlib.Path(tempfile.mkdtemp()) / "orders.model.parquet", model)
    >>> loaded = load_model(path)
    >>> dict(loaded.schema), loaded.params["method"], len(loaded.training)
    ({'amount': 'number'}, 'iforest', 2)
    """
    path = Path(path)
    path.write_bytes(model_bytes(model))
    return path


def model_bytes(model: StreamModel) -> bytes:
    """``model`` as the bytes of a model file (for a state store rather than a file)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(model.training, preserve_index=False)
    document = {
        "format": FORMAT,
        "schema": dict(model.schema),
        "params": dict(model.params),
        "rows": len(model.training),
        "created": model.created or datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    metadata = dict(table.schema.metadata or {})
    metadata[_KEY] = json.dumps(document).encode()
    sink = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(metadata), sink)
    return sink.getvalue()


def read_model_bytes(data: bytes, *, where: str = "the state file") -> StreamModel:
    """The model in ``data`` (bytes from :func:`model_bytes`). Reads data only.

    Raises
    ------
    InputError
        If ``data`` is not a datacanary stream model.
    """
    import io

    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as error:  # pyarrow raises several types for a non-Parquet file
        raise InputError(f"the model in {where} is not a Parquet file ({error})") from None
    return _from_table(table, where)


def load_model(path: str | Path) -> StreamModel:
    """Read a model written by :func:`save_model`. Reads data only; runs no code.

    Raises
    ------
    SourceNotFoundError
        If ``path`` does not exist.
    InputError
        If the file is not a datacanary stream model (for instance a pickle).
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(
            f"model file {str(path)!r} does not exist; train one with --train-on N "
            "--save-model FILE"
        )
    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for a non-Parquet file
        raise InputError(
            f"model file {str(path)!r} is not a Parquet file ({error}); datacanary loads "
            "only models it saved with --save-model (pickles are refused: they run code)"
        ) from None
    return _from_table(table, f"model file {str(path)!r}")


def _from_table(table: Any, where: str) -> StreamModel:
    raw = (table.schema.metadata or {}).get(_KEY)
    try:
        document = json.loads(raw) if raw else None
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        found = document.get("format") if isinstance(document, dict) else None
        raise InputError(
            f"{where} is not a datacanary stream model (format {found!r}, "
            f"expected {FORMAT!r}); save one with --save-model"
        )
    training = table.replace_schema_metadata(None).to_pandas()
    return StreamModel(
        training=training,
        schema=dict(document.get("schema", {})),
        params=dict(document.get("params", {})),
        created=str(document.get("created", "")),
    )
