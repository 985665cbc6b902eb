"""The search space: a JSON object of config key paths and their ranges (docs/optimize.md#the-space).

    "signal_score_threshold": [0.5, 4]                      a float range (an int range on an int key)
    "indicator_settings.rsi_period": {"int": [7, 28]}       an int range ({"int": [lo, hi], "step": 2})
    "trade_management.stop_loss_atr_multiple": {"float": [0.5, 4], "log": true}
    "mtf_analysis.enabled": {"choice": [true, false]}       any values the key takes, lists too

Every key must be a config key the backtest uses; each bound and choice is checked by the config
validator, so an unknown key gets its "did you mean" and an out-of-range bound its allowed range.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from whale.config.loader import ConfigError, config_from_data, parse_json
from whale.config.model import Config, to_dict
from whale.errors import BadInputError
from whale.optimize.evaluate import apply_params

DEFAULT_SPACE = Path(__file__).with_name("default_space.json")
# Sections and keys a candle backtest does not read: optimising them would fit nothing.
NOT_OPTIMISABLE = ("interval", "symbol", "loop_delay", "orderbook_limit", "network", "rest_url", "public_ws_url",
                   "private_ws_url", "dry_run", "strategy", "density", "take_profit", "safety", "alerts", "logging",
                   "trade_management.enabled", "trade_management.max_open_positions",
                   "trade_management.account_balance", "mtf_analysis.mtf_request_delay_seconds", "fees",
                   "risk.max_book_impact_percent", "risk.impact_depth_percent", "symbols", "exchange", "overrides",
                   "backtest")  # backtest.latency_ms: recorded books only


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # "float", "int" or "choice"
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def distribution(self) -> BaseDistribution:
        if self.kind == "int":
            return IntDistribution(int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        if self.kind == "float":
            return FloatDistribution(self.low, self.high, step=self.step, log=self.log)
        return CategoricalDistribution([encode_choice(c) for c in self.choices])

    def value(self, sampled: Any) -> Any:
        """Optuna's sampled value -> the config value."""
        if self.kind == "choice":
            return decode_choice(sampled)
        return int(sampled) if self.kind == "int" else float(sampled)


def encode_choice(value: Any) -> Any:
    """Optuna's categorical values are scalars: a list choice (e.g. higher timeframes) travels as JSON."""
    return json.dumps(value) if isinstance(value, (list, dict)) else value


def decode_choice(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


@dataclass(frozen=True)
class Space:
    params: tuple[Param, ...]
    source: str

    def distributions(self) -> dict[str, BaseDistribution]:
        return {p.key: p.distribution() for p in self.params}

    def values(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """Optuna's params of a trial -> {config key path: config value}."""
        return {p.key: p.value(sampled[p.key]) for p in self.params if p.key in sampled}

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def draw(self, rng: random.Random) -> dict[str, Any]:
        """A parameter set drawn uniformly, without Optuna: the random trials of the parity tests and
        the benchmarks' parameter sets."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.kind == "choice":
                out[p.key] = rng.choice(p.choices)
            elif p.kind == "int":
                out[p.key] = rng.randint(int(p.low), int(p.high))
            else:
                out[p.key] = rng.uniform(p.low, p.high)
        return out


def load_space(path: str | Path | None, base: Config) -> Space:
    """Read and check a space file (the shipped default without a path). BadInputError (exit 2)
    names the file, the key and the problem."""
    p = Path(path) if path else DEFAULT_SPACE
    source = str(p)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(f"--space {source}: no such file") from None
    except OSError as exc:
        raise BadInputError(f"--space {source}: cannot be read ({exc.strerror})") from exc
    try:
        data = parse_json(text, source)
    except ConfigError as exc:
        raise BadInputError(str(exc)) from exc
    return parse_space(data, base, source)


def parse_space(data: Any, base: Config, source: str = "space") -> Space:
    if not isinstance(data, dict):
        raise BadInputError(f"{source}: the space must be a JSON object of config key paths and ranges")
    if not data:
        raise BadInputError(f"{source}: the space is empty; give at least one config key and its range, e.g. "
                            '{"signal_score_threshold": [0.5, 4]}')
    base_data = to_dict(base)
    params = []
    for key, spec in data.items():
        if not isinstance(key, str) or not key:
            raise BadInputError(f"{source}: a key must be a config key path such as \"signal_score_threshold\"")
        _check_optimisable(source, key)
        param = _param(source, key, spec, _leaf_default(base_data, key))
        for probe in _probes(param):
            _check_value(source, key, probe, base_data)
        params.append(param)
    return Space(tuple(params), source)


def _check_optimisable(source: str, key: str) -> None:
    for bad in NOT_OPTIMISABLE:
        if key == bad or key.startswith(bad + "."):
            raise BadInputError(f"{source}: {key}: cannot be optimised (a candle backtest does not use it, or it "
                                f"defines the data rather than the strategy)")


def _leaf_default(base_data: dict[str, Any], key: str) -> Any:
    node: Any = base_data
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None  # unknown: the validator names it below
        node = node[part]
    return node


def _param(source: str, key: str, spec: Any, default: Any) -> Param:
    where = f"{source}: {key}"
    is_int = isinstance(default, int) and not isinstance(default, bool)
    if isinstance(spec, list):
        kind, bounds, extra = ("int" if is_int else "float"), spec, {}
    elif isinstance(spec, dict):
        kinds = [k for k in ("float", "int", "choice") if k in spec]
        unknown = sorted(set(spec) - {"float", "int", "choice", "step", "log"})
        if len(kinds) != 1 or unknown:
            raise BadInputError(f"{where}: expected [low, high], {{\"int\": [low, high]}}, {{\"float\": [low, "
                                f"high]}} or {{\"choice\": [...]}} (with optional \"step\" and \"log\"), got "
                                f"{json.dumps(spec)}")
        kind = kinds[0]
        bounds = spec[kind]
        extra = {k: spec[k] for k in ("step", "log") if k in spec}
    else:
        raise BadInputError(f"{where}: expected a range [low, high] or an object such as {{\"choice\": [...]}}, "
                            f"got {json.dumps(spec)}")
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            raise BadInputError(f"{where}: \"choice\" needs a non-empty list of values")
        if extra:
            raise BadInputError(f"{where}: \"step\" and \"log\" apply to ranges, not to \"choice\"")
        return Param(key, "choice", choices=tuple(bounds))
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)):
        raise BadInputError(f"{where}: a range is two numbers [low, high], got {json.dumps(bounds)}")
    low, high = float(bounds[0]), float(bounds[1])
    if kind == "int" and not (low.is_integer() and high.is_integer()):
        raise BadInputError(f"{where}: an int range needs whole numbers, got {json.dumps(bounds)}")
    if kind == "int" and not is_int and default is not None:
        raise BadInputError(f"{where}: the key takes {type(default).__name__} values; use [low, high] or "
                            "{\"float\": [low, high]}")
    if low > high:
        raise BadInputError(f"{where}: the range is upside down: low {_num(low)} is above high {_num(high)}; "
                            f"write [{_num(high)}, {_num(low)}]")
    if low == high:
        raise BadInputError(f"{where}: the range [{_num(low)}, {_num(high)}] holds one value; set it in the config "
                            "instead, or widen the range")
    step = extra.get("step")
    if step is not None and not (_is_number(step) and step > 0):
        raise BadInputError(f"{where}: \"step\" must be a number above 0, got {json.dumps(step)}")
    log = extra.get("log", False)
    if not isinstance(log, bool):
        raise BadInputError(f"{where}: \"log\" must be true or false")
    if log and (low <= 0 or step is not None):
        raise BadInputError(f"{where}: a log range needs low > 0 and no step")
    return Param(key, kind, low, high, float(step) if step is not None else None, log)


def _probes(param: Param) -> list[Any]:
    if param.kind == "choice":
        return list(param.choices)
    if param.kind == "int":
        return [int(param.low), int(param.high)]
    return [param.low, param.high]


def _check_value(source: str, key: str, value: Any, base_data: dict[str, Any]) -> None:
    """The config validator on the base config with this one value: unknown keys (with "did you
    mean"), wrong types and out-of-range values are reported as the config file would be."""
    try:
        loaded = config_from_data(apply_params(base_data, {key: value}), source=source)
    except ConfigError as exc:
        mine = [p for p in exc.problems if p.startswith(key) or key.startswith(p.split(":")[0].split("[")[0])]
        problems = mine or exc.problems
        raise BadInputError(f"{source}: {problems[0]} (space value {json.dumps(value)})") from exc
    if _leaf_default(base_data, key) is None or isinstance(_leaf_default(base_data, key), dict):
        said = [w for w in loaded.warnings if w.startswith(key)]
        raise BadInputError(f"{source}: {said[0] if said else key + ': is not a config setting'}; a space key "
                            "must name one setting (docs/config.md)")


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)
