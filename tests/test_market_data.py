"""Candle files, interval inference, resampling and the no-look-ahead higher-timeframe join."""

import gzip

import numpy as np
import pytest

from tests.paths import DATA_DIR
from whale.candle_file import load_candle_file
from whale.errors import BadInputError
from whale.market.candles import Candles
from whale.market.intervals import bucket_start, is_multiple
from whale.market.resample import closed_index, resample

MIN = 60_000


def write(tmp_path, rows, name="c.csv", header=True):
    p = tmp_path / name
    text = ("timestamp_ms,open,high,low,close,volume\n" if header else "") + "\n".join(rows) + "\n"
    if name.endswith(".gz"):
        with gzip.open(p, "wt") as f:
            f.write(text)
    else:
        p.write_text(text)
    return p


def rows(n, start=1_700_000_000_000 - 1_700_000_000_000 % MIN, step=MIN):
    return [f"{start + i * step},100,101,99,100.5,1.5" for i in range(n)]


def test_loads_real_file_and_infers_interval():
    cf = load_candle_file(DATA_DIR / "BTCUSDT_1h.csv.gz")
    assert cf.candles.interval == "60"
    assert len(cf.gaps) == 28 and cf.missing_candles == 128


def test_gzip_and_headerless(tmp_path):
    cf = load_candle_file(write(tmp_path, rows(5), "x.csv.gz"))
    assert len(cf.candles) == 5 and cf.candles.interval == "1"
    cf = load_candle_file(write(tmp_path, rows(5), "y.csv", header=False))
    assert len(cf.candles) == 5


@pytest.mark.parametrize("mutate,needle", [
    (lambda r: r[:3] + [r[4], r[3]] + r[5:], "line 6: rows are not sorted"),
    (lambda r: r[:3] + [r[2]] + r[3:], "line 5: duplicate timestamp"),
    (lambda r: r[:2] + [r[2].replace(",100.5,", ",nan,")] + r[3:], "line 4: close"),
    (lambda r: r[:2] + [r[2].replace(",100.5,", ",,")] + r[3:], "line 4: close is empty"),
    (lambda r: r[:2] + [r[2].replace(",101,", ",99.5,")] + r[3:], "line 4: high/low"),
    (lambda r: r[:2] + [r[2].replace(",100.5,", ",abc,")] + r[3:], "line 4: close is not a number"),
])
def test_bad_rows_name_file_and_line(tmp_path, mutate, needle):
    p = write(tmp_path, mutate(rows(8)))
    with pytest.raises(BadInputError) as e:
        load_candle_file(p)
    assert needle in str(e.value) and str(p) in str(e.value)
    assert e.value.exit_code == 2


def test_wrong_header_and_missing_file(tmp_path):
    p = tmp_path / "h.csv"
    p.write_text("time,o,h,l,c,v\n1,2,3,4,5,6\n")
    with pytest.raises(BadInputError, match="line 1: expected the header"):
        load_candle_file(p)
    with pytest.raises(BadInputError, match="no such candle file"):
        load_candle_file(tmp_path / "nope.csv")


def test_seconds_timestamps_rejected(tmp_path):
    p = write(tmp_path, [f"{1_700_000_040 + 60 * i},1,1,1,1,1" for i in range(3)])
    with pytest.raises(BadInputError, match="looks like seconds"):
        load_candle_file(p)


def test_gaps_are_counted(tmp_path):
    r = rows(10)
    cf = load_candle_file(write(tmp_path, r[:4] + r[7:]))
    assert len(cf.gaps) == 1 and cf.missing_candles == 3


def test_resample_matches_pandas_and_drops_partial_buckets():
    cf = load_candle_file(DATA_DIR / "BTCUSDT-PERP_1m.csv.gz")
    c = cf.candles.slice(0, 5000)
    r = resample(c, "15")
    # Data starts at 15:33, so the 15:30 bucket is partial and dropped.
    assert r.ts[0] == bucket_start(c.ts[:1], "15")[0] + 15 * MIN
    first = int(np.searchsorted(c.ts, r.ts[0]))
    assert r.open[0] == c.open[first] and r.close[0] == c.close[first + 14]
    assert r.high[0] == c.high[first:first + 15].max() and r.low[0] == c.low[first:first + 15].min()
    assert r.volume[0] == pytest.approx(c.volume[first:first + 15].sum())
    # The last bucket is dropped when the data ends before it closes.
    assert r.ts[-1] + 15 * MIN <= c.ts[-1] + MIN


def test_closed_index_has_no_look_ahead():
    start = 1_700_000_000_000 - 1_700_000_000_000 % (60 * MIN)
    ts = start + np.arange(180) * MIN
    c = Candles.from_arrays(ts, np.ones(180), np.ones(180), np.ones(180), np.ones(180), np.ones(180), "1")
    h = resample(c, "60")
    idx = closed_index(c.ts, "1", h.ts, "60")
    assert idx[58] == -1  # 00:58 closes at 00:59: the hour is still open
    assert idx[59] == 0  # 00:59 closes at 01:00, with the first hour
    assert idx[119] == 1 and idx[118] == 0


def test_interval_multiples():
    assert is_multiple("15", "1") and is_multiple("60", "15") and not is_multiple("15", "60")
    assert is_multiple("D", "60") and not is_multiple("15", "D") and is_multiple("W", "D")
