"""Keys of the original Whalebot that the model no longer has: accepted with one warning each.

An existing user's `config.json` must still load (docs/config.md#keys-of-the-original-whalebot).
`migrate` runs on the parsed file before validation: it removes each legacy key, says what
replaced it, and, where the original's behaviour depended on the key, maps it onto the new key so
the bot behaves the same:

- `strategy_profiles[current_strategy_profile]` gives `indicators` / `active_weights` when the
  file does not set them (wb1.0.x copied the profile over them at every start);
- `weight_sets.default_scalping` gives `active_weights` likewise (wb.py read that set);
- `log_level` / `log_filename` give `logging.level` / `logging.file`;
- `trade_management.trading_fee_percent` / `slippage_percent` give `fees.taker_rate` /
  `fees.slippage_rate` when the file has no `fees` block (both were fractions in the original);
- the one-symbol keys (`model.MOVED`): `symbol` gives a one-symbol `symbols`, and `network`,
  `rest_url`, `public_ws_url`, `private_ws_url` give `exchange.*`; given at both places they must
  agree.

A mapped value is validated at its new place; a problem with it names the key the user wrote.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from whale.config.model import MOVED, IndicatorToggles

DEFAULT_PROFILE = "default_scalping"
ORIGINAL_LOG_DIR = "bot_logs/trading-bot/logs"
"""Where wb.py / wb1.0.x put `log_filename`; a mapped `log_filename` keeps writing there."""

_VOLATILITY_FILTER = "wb1.1.0's volatility filter is gone (the volatility index scorer remains)"
_SENTIMENT = "wb1.1.0's sentiment scorer read a stub that made up its values"

# Keys dropped without a mapping: dotted path -> why, and what to use instead.
IGNORED: dict[str, str] = {
    "ml_enhancement": "the original never used it (ML was switched off and its sentiment source "
                      "was a stub)",
    "adaptive_strategy_enabled": "adaptive profile switching (wb1.1.0) is gone with strategy "
                                 "profiles; the original lost the switch on reload anyway",
    "trade_management.order_precision": "order quantities are rounded to the instrument's qtyStep, "
                                        "read from Bybit",
    "trade_management.price_precision": "prices are rounded to the instrument's tickSize, read from "
                                        "Bybit",
    "active_weights.volume_confirmation": "wb.py and wb1.0.x never read this weight; volume "
                                          "confirmation is a filter without a weight "
                                          "(indicators.volume_confirmation, "
                                          "volume_confirmation_multiplier) that halves a "
                                          "weak-volume score",
    "active_weights.volatility_filter": _VOLATILITY_FILTER,
    "active_weights.sentiment_signal": _SENTIMENT,
    "indicators.volatility_filter": _VOLATILITY_FILTER,
    "indicators.mtf_analysis": "the original never read this toggle; multi-timeframe analysis is "
                               "switched by mtf_analysis.enabled",
}
for _name in ("rsi", "stoch_rsi", "cci", "wr", "mfi"):  # per-oscillator weights of whalebot.py
    IGNORED[f"active_weights.{_name}"] = ("the momentum block has one weight, "
                                          "active_weights.momentum_rsi_stoch_cci_wr_mfi")
# wb1.1.0's trade-confirmation keys lived in indicator_settings; accepted at the top level too.
for _section in ("", "indicator_settings."):
    IGNORED[_section + "enable_volume_confirmation"] = ("volume confirmation is switched by "
                                                        "indicators.volume_confirmation")
    IGNORED[_section + "min_volume_multiplier"] = "replaced by volume_confirmation_multiplier (top level)"
    for _name in ("enable_volatility_filter", "optimal_volatility_min", "optimal_volatility_max"):
        IGNORED[_section + _name] = _VOLATILITY_FILTER

# Keys that are mapped (or dropped) by `migrate` itself; listed for the documentation.
MAPPED: dict[str, str] = {
    "strategy_profiles": "indicators and active_weights; the profile named by "
                         "current_strategy_profile is applied when the file sets neither",
    "current_strategy_profile": "nothing: it selected the profile applied from strategy_profiles",
    "weight_sets": "active_weights; its default_scalping set is applied when the file has no "
                   "active_weights",
    "log_level": "logging.level (applied unless logging.level is set)",
    "log_filename": f"logging.file (applied as {ORIGINAL_LOG_DIR}/NAME, where the original wrote "
                    "it, unless logging.file is set)",
    "trade_management.trading_fee_percent": "fees.taker_rate (applied as is, a fraction, unless the "
                                            "file has a fees block)",
    "trade_management.slippage_percent": "fees.slippage_rate (applied as is, a fraction, unless the "
                                         "file has a fees block)",
    "symbol": "symbols, as a one-symbol list; with symbols also given, the two must agree",
    **{old: f"{new}; with {new} also given, the two must agree" for old, new in MOVED.items() if old != "symbol"},
}


@dataclass
class Origins:
    """Where a value that `migrate` moved came from, so messages name the key the user wrote."""

    sections: dict[str, str] = dataclasses.field(default_factory=dict)  # "indicators" -> source
    values: dict[str, str] = dataclasses.field(default_factory=dict)  # "fees.taker_rate" -> source

    def show(self, path: str) -> str:
        if path in self.values:
            return f"{self.values[path]} (applied as {path})"
        for target, source in self.sections.items():
            if path == target or path.startswith(target + ".") or path.startswith(target + "["):
                return source + path[len(target):]
        return path


def migrate(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None],
            problem: Callable[[str, str], None]) -> None:
    """Remove and map the legacy keys of `data` in place; `warn(path, text)` once per key found,
    `problem(path, text)` where an old key contradicts its replacement."""
    _apply_moved(data, origins, warn, problem)
    _apply_profiles(data, origins, warn)
    _apply_weight_sets(data, origins, warn)
    _apply_logging(data, origins, warn)
    _apply_fees(data, origins, warn)
    for path, why in IGNORED.items():
        section_path, _, key = path.rpartition(".")
        section = data.get(section_path) if section_path else data
        if isinstance(section, dict) and key in section:
            del section[key]
            shown = origins.show(path)
            warn(shown, f"deprecated and ignored: {why}; delete it")


def _apply_moved(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None],
                 problem: Callable[[str, str], None]) -> None:
    """The one-symbol top-level keys: each goes to its new place, unless that is given too (then
    the two must agree, or neither can be trusted)."""
    for old, new in MOVED.items():
        section_name, _, key = new.rpartition(".")
        section = data.setdefault(section_name, {}) if section_name and old in data else data
        if old not in data or not isinstance(section, dict):
            continue  # a section that is no object is reported as such; the old key then is unknown
        value = data.pop(old)
        moved = [value] if old == "symbol" else value
        if key in section:
            if section[key] == moved:
                warn(old, f"deprecated, replaced by {new}, which says the same; delete it")
            else:
                problem(old, f"{_json(value)} disagrees with {new} {_json(section[key])}; {old} is the old "
                        f"spelling of {new}, so delete it")
            continue
        section[key] = moved
        if old == "symbol":
            origins.sections["symbols[0]"] = old  # a problem with the symbol names the key written
            warn(old, f"deprecated, replaced by symbols (one account can trade several); applied as symbols "
                 f"{_json(moved)}. Write \"symbols\": {_json(moved)} instead")
        else:
            origins.values[new] = old
            warn(old, f"deprecated, replaced by {new} (the exchange block); applied as {new} {_json(value)}. "
                 "Move it there")


def _json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _explicit(data: dict[str, Any], key: str) -> bool:
    """The file sets this section itself (an empty {} as written by wb1.0.x's first run does not count)."""
    return key in data and data[key] != {}


def _apply_profiles(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None]) -> None:
    """Apply the selected profile of `strategy_profiles`, and warn about both keys with what
    actually happened to them (applied, ignored, or no such profile), so the text never
    contradicts the effective config."""
    has_name = "current_strategy_profile" in data
    name = data.pop("current_strategy_profile", None)
    if "strategy_profiles" not in data:
        if has_name:
            warn("current_strategy_profile", "deprecated and ignored: it selected an entry of "
                 "strategy_profiles, which this file does not have; delete it")
        return
    profiles = data.pop("strategy_profiles")
    if not isinstance(name, str):
        name = DEFAULT_PROFILE
    outcome, text = _profile_outcome(data, origins, profiles, name)
    if has_name:
        warn("current_strategy_profile", _SELECTOR_TEXT[outcome].format(name=name))
    warn("strategy_profiles", text)


# What the current_strategy_profile warning says for each outcome of _profile_outcome.
_SELECTOR_TEXT = {
    "applied": "deprecated: it selected profile '{name}' of strategy_profiles, which was applied (see "
               "strategy_profiles); delete it once indicators and active_weights are written out",
    "overridden": "deprecated and ignored, because indicators and active_weights are set; delete it",
    "missing": "deprecated: it names profile '{name}', which strategy_profiles does not have, so the "
               "defaults apply; delete it",
    "empty": "deprecated and ignored: profile '{name}' has nothing to apply; delete it",
}


def _profile_outcome(data: dict[str, Any], origins: Origins, profiles: Any, name: str) -> tuple[str, str]:
    """Apply profile `name` where the file leaves indicators / active_weights unset; returns the
    outcome (a key of _SELECTOR_TEXT) and the strategy_profiles warning."""
    need_toggles, need_weights = not _explicit(data, "indicators"), not _explicit(data, "active_weights")
    if not (need_toggles or need_weights):
        return "overridden", ("deprecated and ignored, because indicators and active_weights are set; "
                              "delete it")
    profile = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(profile, dict):
        known = ", ".join(profiles) if isinstance(profiles, dict) and profiles else "none"
        return "missing", (f"deprecated; it has no profile '{name}' (profiles: {known}), so the defaults "
                           "apply to indicators and active_weights; set those and delete strategy_profiles")
    applied = []
    toggles = profile.get("indicators_enabled")
    if need_toggles and isinstance(toggles, dict):
        # The original replaced `indicators` with the profile's dict: a toggle it does not list is off.
        off = {f.name: False for f in dataclasses.fields(IndicatorToggles)}
        data["indicators"] = {**off, **toggles}
        origins.sections["indicators"] = f"strategy_profiles.{name}.indicators_enabled"
        applied.append("its indicators_enabled became indicators (toggles it does not list are off)")
    weights = profile.get("weights")
    if need_weights and isinstance(weights, dict):
        data["active_weights"] = dict(weights)
        origins.sections["active_weights"] = f"strategy_profiles.{name}.weights"
        applied.append("its weights became active_weights (weights it does not list keep their "
                       "defaults)")
    if not applied:
        return "empty", f"deprecated and ignored (profile '{name}' has nothing to apply); delete it"
    return "applied", (f"deprecated; profile '{name}' was applied as the original did: {'; '.join(applied)}. "
                       "Write them under indicators and active_weights and delete strategy_profiles")


def _apply_weight_sets(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None]) -> None:
    if "weight_sets" not in data:
        return
    sets = data.pop("weight_sets")
    chosen = sets.get(DEFAULT_PROFILE) if isinstance(sets, dict) else None
    if _explicit(data, "active_weights"):
        by = "strategy_profiles gave active_weights" if "active_weights" in origins.sections \
            else "active_weights is set"
        warn("weight_sets", f"deprecated and ignored, because {by}; delete it")
    elif isinstance(chosen, dict):
        data["active_weights"] = dict(chosen)
        origins.sections["active_weights"] = f"weight_sets.{DEFAULT_PROFILE}"
        warn("weight_sets", f"deprecated; its {DEFAULT_PROFILE} set was applied as active_weights, as "
             "the original read it. Write the weights under active_weights and delete weight_sets")
    else:
        warn("weight_sets", f"deprecated and ignored (it has no {DEFAULT_PROFILE} set); use "
             "active_weights and delete it")


def _map_value(data: dict[str, Any], origins: Origins, source: str, target: str, value: Any) -> bool:
    """Put `value` at `target` unless the file sets it; False when the target is taken."""
    section_name, _, key = target.partition(".")
    section = data.setdefault(section_name, {})
    if not isinstance(section, dict) or key in section:
        return False
    section[key] = value
    origins.values[target] = source
    return True


def _apply_logging(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None]) -> None:
    if "log_level" in data:
        value = data.pop("log_level")
        level = value.upper() if isinstance(value, str) else value  # the original upper-cased it
        if _map_value(data, origins, "log_level", "logging.level", level):
            warn("log_level", f"deprecated, replaced by logging.level; applied as logging.level "
                 f"{_quoted(level)}. Move it there")
        else:
            warn("log_level", "deprecated and ignored, because logging.level is set; delete it")
    if "log_filename" in data:
        value = data.pop("log_filename")
        path = posixpath.join(ORIGINAL_LOG_DIR, value) if isinstance(value, str) and value else value
        if _map_value(data, origins, "log_filename", "logging.file", path):
            warn("log_filename", f"deprecated, replaced by logging.file; the log still goes to "
                 f"{_quoted(path)}, where the original wrote it. Set logging.file instead")
        else:
            warn("log_filename", "deprecated and ignored, because logging.file is set; delete it")


def _apply_fees(data: dict[str, Any], origins: Origins, warn: Callable[[str, str], None]) -> None:
    trade = data.get("trade_management")
    if not isinstance(trade, dict):
        return
    fees_given = "fees" in data
    for key, target, how in (
        ("trading_fee_percent", "fees.taker_rate",
         "the original charged price x qty x trading_fee_percent per fill, so it is a fraction"),
        ("slippage_percent", "fees.slippage_rate",
         "the original filled exits at price x (1 -/+ slippage_percent), so it is a fraction"),
    ):
        if key not in trade:
            continue
        value = trade.pop(key)
        source = f"trade_management.{key}"
        if not fees_given and _map_value(data, origins, source, target, value):
            as_percent = (f"; {value} = {value * 100:g} %" if isinstance(value, (int, float))
                          and not isinstance(value, bool) else "")
            warn(source, f"deprecated, replaced by the fees block; {_quoted(value)} was applied as "
                 f"{target} ({how} despite its name{as_percent}). Set {target} instead")
        else:
            warn(source, f"deprecated and ignored, because the fees block is set ({target} is the "
                 "replacement); delete it")


def _quoted(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)
