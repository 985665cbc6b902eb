"""Instrument rules from the exchange that cannot be right (a qtyStep or tickSize of 0, negative,
missing, not a number) are refused with a message naming the symbol and the field, through the
real client against the simulator serving such data (issue 9: a qtyStep of 0 raised
ZeroDivisionError)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from whale.bybit.endpoints import Endpoints
from whale.bybit.errors import BadDataError
from whale.bybit.rest import BybitRest
from whale.config.model import Config, replace_path, to_dict
from whale.errors import EXIT_RUNTIME, BadInputError
from whale.sim.faults import parse_faults

pytestmark = pytest.mark.net

ROOT = Path(__file__).resolve().parents[2]


def rest_for(sim) -> BybitRest:
    return BybitRest(Endpoints("custom", sim.rest_url, sim.public_ws_url, sim.private_ws_url))


@pytest.mark.parametrize(("fault", "shown"), [
    ("instrument=qtyStep:0", "lotSizeFilter.qtyStep is '0'"),
    ("instrument=tickSize:0", "priceFilter.tickSize is '0'"),
    ("instrument=tickSize:-0.1", "priceFilter.tickSize is '-0.1'"),
    ("instrument=qtyStep:missing", "lotSizeFilter.qtyStep is missing"),
    ("instrument=qtyStep:abc", "lotSizeFilter.qtyStep is 'abc'"),
    ("instrument=minOrderQty:0", "lotSizeFilter.minOrderQty is '0'"),
    ("instrument=maxLeverage:NaN", "leverageFilter.maxLeverage is 'NaN'"),
])
def test_instrument_data_that_cannot_be_right_is_refused(make_sim, fault, shown):
    sim = make_sim(faults=fault)
    rest = rest_for(sim)
    try:
        with pytest.raises(BadDataError) as err:
            rest.instrument("BTCUSDT")
    finally:
        rest.close()
    text = str(err.value)
    assert err.value.exit_code == EXIT_RUNTIME
    assert "BTCUSDT" in text and shown in text and "instruments-info" in text and sim.rest_url.split("//")[1] in text


def test_the_real_rules_still_load(make_sim):
    sim = make_sim(faults="instrument=minNotionalValue:0")  # 0 is a valid minimum notional
    rest = rest_for(sim)
    try:
        inst = rest.instrument("BTCUSDT")
    finally:
        rest.close()
    assert inst.qty_step > 0 and inst.tick_size > 0 and inst.min_notional == 0


def test_the_fault_spec_names_a_bad_field():
    assert parse_faults("instrument=qtyStep:0,instrument=tickSize:missing").instrument == {
        "qtyStep": "0", "tickSize": "missing"}
    with pytest.raises(BadInputError, match="unknown instruments-info field 'qty'"):
        parse_faults("instrument=qty:0")
    with pytest.raises(BadInputError, match="FIELD:VALUE"):
        parse_faults("instrument=qtyStep")


def test_the_bot_refuses_to_start_on_a_zero_qty_step(tmp_path):
    """`python whalebot.py sim --faults instrument=qtyStep:0` as the exchange, the bot as users run
    it: one message naming the symbol and the field, exit 1, no traceback."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BYBIT_")}
    sim = subprocess.Popen([sys.executable, str(ROOT / "whalebot.py"), "sim", "--port", "0", "--speed", "0",
                            "--faults", "instrument=qtyStep:0"], cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True, env=env)
    try:
        line = sim.stdout.readline().strip()
        assert line.startswith("SIM READY"), line
        urls = dict(p.split("=", 1) for p in line.split()[2:])
        cfg = Config()
        for key, value in (("network", "custom"), ("rest_url", urls["rest"]), ("public_ws_url", urls["public_ws"]),
                           ("private_ws_url", urls["private_ws"]), ("dry_run", True),
                           ("logging.file", str(tmp_path / "whalebot.log"))):
            cfg = replace_path(cfg, key, value)
        (tmp_path / "config.json").write_text(json.dumps(to_dict(cfg)))
        bot = subprocess.run([sys.executable, str(ROOT / "whalebot.py"), "--config", str(tmp_path / "config.json"),
                              "--workdir", str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, env=env,
                             timeout=120)
    finally:
        sim.send_signal(signal.SIGTERM)
        try:
            sim.wait(timeout=20)
        finally:
            if sim.poll() is None:
                sim.kill()
    assert bot.returncode == EXIT_RUNTIME, bot.stderr[-2000:]
    assert "Traceback" not in bot.stderr and "ZeroDivisionError" not in bot.stderr
    errors = [x for x in bot.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "BTCUSDT" in errors[0] and "lotSizeFilter.qtyStep is '0'" in errors[0], bot.stderr
