"""What the check factories share: coercing assets, validating arguments, naming checks."""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias, TypeVar

import dagster as dg

from datacanary.errors import ConfigError

AssetLike: TypeAlias = (
    dg.AssetKey | str | Sequence[str] | dg.AssetsDefinition | dg.AssetSpec | dg.SourceAsset
)
"""What a factory accepts as an asset: a key (``"orders"``, ``["raw", "orders"]``,
``AssetKey``) or a definition (``@asset`` function, ``AssetSpec``, ``SourceAsset``)."""

_INVALID = re.compile(r"[^A-Za-z0-9_]")
_F = TypeVar("_F", bound=Callable[..., Any])


def asset_targets(
    assets: Any, *, argument: str = "assets"
) -> list[tuple[dg.AssetKey, dg.PartitionsDefinition | None]]:
    """Each asset key named by ``assets`` with its partitions definition when it is known.

    A definition (``@asset``, ``AssetSpec``, ``SourceAsset``) knows its partitions; a bare key
    does not (the check then finds them at run time).
    """
    if isinstance(assets, (str, dg.AssetKey)) or not isinstance(assets, Sequence):
        raise ConfigError(
            f"{argument} must be a list of assets or asset keys; got {assets!r}; "
            f"wrap a single asset in a list: {argument}=[...]"
        )
    targets: list[tuple[dg.AssetKey, dg.PartitionsDefinition | None]] = []
    for asset in assets:
        targets.extend(_one_asset(asset, argument))
    if not targets:
        raise ConfigError(f"{argument} must name at least one asset; got an empty list")
    keys = [key for key, _ in targets]
    repeated = sorted({key.to_user_string() for key in keys if keys.count(key) > 1})
    if repeated:
        raise ConfigError(
            f"{argument} names {', '.join(repeated)} more than once; list each asset once"
        )
    return targets


def one_asset_target(asset: Any) -> tuple[dg.AssetKey, dg.PartitionsDefinition | None]:
    """The single asset key named by ``asset`` (a multi-asset must name one key)."""
    targets = _one_asset(asset, "asset")
    if len(targets) != 1:
        names = ", ".join(key.to_user_string() for key, _ in targets)
        raise ConfigError(
            f"asset must be one asset; the definition given has {len(targets)} ({names}); "
            "pass the key of the one to check"
        )
    return targets[0]


def _one_asset(
    asset: Any, argument: str
) -> list[tuple[dg.AssetKey, dg.PartitionsDefinition | None]]:
    if isinstance(asset, dg.AssetsDefinition):
        return [(key, asset.partitions_def) for key in asset.keys]
    if isinstance(asset, (dg.AssetSpec, dg.SourceAsset)):
        return [(asset.key, asset.partitions_def)]
    if isinstance(asset, dg.AssetKey):
        return [(asset, None)]
    if isinstance(asset, str) and asset:
        return [(dg.AssetKey.from_user_string(asset), None)]
    if (
        isinstance(asset, Sequence)
        and not isinstance(asset, str)
        and asset
        and all(isinstance(part, str) and part for part in asset)
    ):
        return [(dg.AssetKey(list(asset)), None)]
    raise ConfigError(
        f"each of {argument} must be an asset key (str, list of str, AssetKey) or an asset "
        f"definition (@asset, AssetSpec, SourceAsset); got {asset!r}"
    )


def resolve_severity(severity: Any, blocking: Any) -> dg.AssetCheckSeverity:
    """The severity of a failed result: ERROR when blocking, WARN otherwise, unless given."""
    if not isinstance(blocking, bool):
        raise ConfigError(f"blocking must be True or False; got {blocking!r}")
    if severity is None:
        return dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN
    if isinstance(severity, str):
        with contextlib.suppress(ValueError):
            severity = dg.AssetCheckSeverity(severity.upper())
    if not isinstance(severity, dg.AssetCheckSeverity):
        raise ConfigError(
            f"severity must be AssetCheckSeverity.WARN or AssetCheckSeverity.ERROR (or None: "
            f"ERROR when blocking, else WARN); got {severity!r}"
        )
    if blocking and severity is dg.AssetCheckSeverity.WARN:
        raise ConfigError(
            "blocking=True stops downstream assets only when a check fails with severity "
            "ERROR; got severity=WARN; pass severity=AssetCheckSeverity.ERROR (or leave it "
            "None) or blocking=False"
        )
    return severity


def check_int(name: str, value: Any, *, low: int) -> int:
    """``value`` if it is an integer >= ``low``; a :class:`ConfigError` naming it otherwise."""
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
    return value


def check_name_part(text: str) -> str:
    """``text`` made safe for a Dagster name: letters, digits and underscores."""
    cleaned = _INVALID.sub("_", text).strip("_")
    return cleaned or "value"


def op_name(prefix: str, key: dg.AssetKey, check_names: Sequence[str]) -> str:
    """A unique, stable op name for the checks ``check_names`` of the asset ``key``."""
    digest = hashlib.sha1("\n".join(sorted(check_names)).encode()).hexdigest()[:8]
    return f"{prefix}_{key.to_python_identifier()}_{digest}"


def with_runtime_hints(fn: _F, **hints: Any) -> _F:
    """``fn`` with real (not string) annotations, as Dagster's decorators inspect them.

    Under ``from __future__ import annotations`` the hints are strings, which Dagster
    rejects for ``context``; this sets the classes themselves, before decorating.
    """
    fn.__annotations__ = dict(hints)
    return fn
