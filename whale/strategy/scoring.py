"""Scoring: every scorer of docs/strategy.md#scorers, in two numba range kernels over the feature matrix.

Stage one (`unit_range`) computes each scorer's contribution at weight 1, its "unit" row; stage
two (`combine_range`) adds weight x unit in scorer order and applies the two filters. The split
lets the optimiser cache unit rows and pay only for stage two when a trial changes weights
(docs/optimize.md); the backtest and the live loop run the very same two stages. Both kernels
follow the range-kernel contract (results for candles [start, end) read indices <= i only), so the
backtest (large chunks) and the live loop (one candle at a time) compute bit-identical scores.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from whale.config.model import Config
from whale.strategy.feature_ids import (
    F_ADX,
    F_BB_L,
    F_BB_U,
    F_BOOK_IMB,
    F_CANDLE,
    F_CCI,
    F_CLOSE,
    F_CMF,
    F_DEMA,
    F_DENSITY,
    F_EMA_L,
    F_EMA_S,
    F_FIB_HI,
    F_FIB_LO,
    F_KAMA,
    F_KELT_L,
    F_KELT_U,
    F_KIJUN,
    F_MACD,
    F_MACD_SIG,
    F_MDI,
    F_MFI,
    F_MSTRUCT,
    F_MTF_NET,
    F_OBV_GAP,
    F_PDI,
    F_PIV,
    F_PIV_R1,
    F_PIV_R2,
    F_PIV_S1,
    F_PIV_S2,
    F_PSAR,
    F_PSAR_DIR,
    F_RELVOL,
    F_ROC,
    F_RSI,
    F_SMA_L,
    F_SMA_S,
    F_SPAN_A,
    F_SPAN_B,
    F_STF_DIR,
    F_STOCH_D,
    F_STOCH_K,
    F_STS_DIR,
    F_TENKAN,
    F_VDELTA,
    F_VOL_AVG,
    F_VOLIDX,
    F_VOLUME,
    F_VWAP,
    F_VWMA,
    F_WR,
)
from whale.strategy.scorers import (
    N_SCORERS,
    S_ADX,
    S_BB,
    S_BOOK,
    S_CANDLE,
    S_CCI,
    S_CMF,
    S_DEMA,
    S_DENSITY,
    S_EMA,
    S_FIB,
    S_ICHI,
    S_KAMA,
    S_KELT,
    S_MACD,
    S_MFI,
    S_MSTRUCT,
    S_MTF,
    S_OBV,
    S_PIVOT,
    S_PSAR,
    S_RELVOL,
    S_ROC,
    S_RSI,
    S_SMA10,
    S_SMA_TREND,
    S_ST,
    S_STOCH,
    S_VDELTA,
    S_VOLCONF,
    S_VOLIDX,
    S_VWAP,
    S_VWMA,
    S_WR,
)

# Parameter vector layout (floats).
(P_STOCH_OS, P_STOCH_OB, P_CCI_OS, P_CCI_OB, P_WR_OS, P_WR_OB, P_MFI_OS, P_MFI_OB, P_ADX_STRONG, P_ADX_WEAK,
 P_VD_THRESHOLD, P_VOLCONF_MULT, P_CHIKOU_OFFSET, P_FIB_TOLERANCE, P_RELVOL_THRESHOLD, P_ROC_OS, P_ROC_OB,
 P_MTF_ENTRIES, P_ADX_TREND_MULT) = range(19)
N_PARAMS = 19

FIB_RATIOS_SCORED = np.array([0.236, 0.382, 0.5, 0.618, 0.786])  # 0 % and 100 % are not scored
FIB_TOLERANCE = 0.001  # |close - level| / close


def scoring_params(cfg: Config, mtf_entries: int) -> np.ndarray:
    s = cfg.indicator_settings
    p = np.zeros(N_PARAMS)
    p[P_STOCH_OS], p[P_STOCH_OB] = s.stoch_rsi_oversold, s.stoch_rsi_overbought
    p[P_CCI_OS], p[P_CCI_OB] = s.cci_oversold, s.cci_overbought
    p[P_WR_OS], p[P_WR_OB] = s.williams_r_oversold, s.williams_r_overbought
    p[P_MFI_OS], p[P_MFI_OB] = s.mfi_oversold, s.mfi_overbought
    p[P_ADX_STRONG], p[P_ADX_WEAK] = s.ADX_STRONG_TREND_THRESHOLD, s.ADX_WEAK_TREND_THRESHOLD
    p[P_VD_THRESHOLD] = s.volume_delta_threshold
    p[P_VOLCONF_MULT] = cfg.volume_confirmation_multiplier
    p[P_CHIKOU_OFFSET] = s.ichimoku_chikou_span_offset
    p[P_FIB_TOLERANCE] = FIB_TOLERANCE
    p[P_RELVOL_THRESHOLD] = s.relative_volume_threshold
    p[P_ROC_OS], p[P_ROC_OB] = s.roc_oversold, s.roc_overbought
    p[P_MTF_ENTRIES] = mtf_entries
    p[P_ADX_TREND_MULT] = 1.0 if cfg.indicators.adx_trend_multiplier else 0.0
    return p


@njit(cache=True, inline="always")
def _nan(v: float) -> bool:
    return v != v


@njit(cache=True, inline="always")
def _cross_up(a: float, b: float, pa: float, pb: float) -> bool:
    return a > b and pa <= pb


@njit(cache=True, inline="always")
def _cross_down(a: float, b: float, pa: float, pb: float) -> bool:
    return a < b and pa >= pb


@njit(cache=True, inline="always")
def _side(a: float, b: float, amount: float) -> float:
    """+amount when a is above b, -amount below, 0 level."""
    return amount if a > b else (-amount if a < b else 0.0)


@njit(cache=True, inline="always")
def _band(v: float, low: float, high: float, amount: float) -> float:
    """Contrarian: +amount below the low band, -amount above the high band."""
    return amount if v < low else (-amount if v > high else 0.0)


@njit(cache=True, inline="always")
def _cross(a: float, b: float, pa: float, pb: float, amount: float) -> float:
    """+amount when a crosses above b on this candle, -amount when it crosses below."""
    return amount if _cross_up(a, b, pa, pb) else (-amount if _cross_down(a, b, pa, pb) else 0.0)


# ---- What each scorer's first stage reads -------------------------------------------------------
# The features and scoring parameters behind each scorer's unit row. The optimiser caches a unit
# row under the indicator groups of these features and the values of these parameters
# (whale/optimize/evaluate.py); tests/optimize/test_scorer_inputs.py checks that the lists are complete.
TREND_MULT_FEATURES = (F_ADX,)
TREND_MULT_PARAMS = (P_ADX_TREND_MULT, P_ADX_STRONG, P_ADX_WEAK)
SCORER_INPUTS: dict[int, tuple[tuple[int, ...], tuple[int, ...], bool]] = {
    # scorer: (features, params, scaled by the ADX trend multiplier)
    S_EMA: ((F_EMA_S, F_EMA_L), (), True),
    S_SMA_TREND: ((F_CLOSE, F_SMA_L), (), True),
    S_RSI: ((F_RSI,), (), False),
    S_STOCH: ((F_STOCH_K, F_STOCH_D), (P_STOCH_OS, P_STOCH_OB), False),
    S_CCI: ((F_CCI,), (P_CCI_OS, P_CCI_OB), False),
    S_WR: ((F_WR,), (P_WR_OS, P_WR_OB), False),
    S_MFI: ((F_MFI,), (P_MFI_OS, P_MFI_OB), False),
    S_BB: ((F_CLOSE, F_BB_U, F_BB_L), (), False),
    S_VWAP: ((F_CLOSE, F_VWAP), (), True),
    S_PSAR: ((F_CLOSE, F_PSAR, F_PSAR_DIR), (), True),
    S_SMA10: ((F_CLOSE, F_SMA_S), (), False),
    S_BOOK: ((F_BOOK_IMB,), (), False),
    S_FIB: ((F_CLOSE, F_FIB_HI, F_FIB_LO), (P_FIB_TOLERANCE,), False),
    S_ST: ((F_STF_DIR, F_STS_DIR), (), True),
    S_MACD: ((F_MACD, F_MACD_SIG), (), True),
    S_ADX: ((F_ADX, F_PDI, F_MDI), (P_ADX_STRONG,), False),
    S_ICHI: ((F_CLOSE, F_TENKAN, F_KIJUN, F_SPAN_A, F_SPAN_B), (P_CHIKOU_OFFSET,), True),
    S_OBV: ((F_CLOSE, F_VOLUME, F_OBV_GAP), (), False),
    S_CMF: ((F_CMF,), (), False),
    S_VWMA: ((F_CLOSE, F_VWMA), (), False),
    S_VDELTA: ((F_VDELTA,), (P_VD_THRESHOLD,), False),
    S_MTF: ((F_MTF_NET,), (P_MTF_ENTRIES,), False),
    S_DENSITY: ((F_DENSITY,), (), False),
    S_KAMA: ((F_CLOSE, F_KAMA), (), True),
    S_DEMA: ((F_DEMA, F_EMA_S), (), True),
    S_KELT: ((F_CLOSE, F_KELT_U, F_KELT_L), (), False),
    S_ROC: ((F_ROC,), (P_ROC_OS, P_ROC_OB), True),
    S_RELVOL: ((F_CLOSE, F_RELVOL), (P_RELVOL_THRESHOLD,), False),
    S_MSTRUCT: ((F_MSTRUCT,), (), True),
    S_CANDLE: ((F_CANDLE,), (), False),
    S_PIVOT: ((F_CLOSE, F_PIV, F_PIV_R1, F_PIV_R2, F_PIV_S1, F_PIV_S2), (), False),
    S_VOLIDX: ((F_VOLIDX,), (), False),
    S_VOLCONF: ((F_VOLUME, F_VOL_AVG, F_VDELTA), (P_VOLCONF_MULT, P_VD_THRESHOLD), False),
}
assert sorted(SCORER_INPUTS) == list(range(N_SCORERS))

# Codes of the two filters' unit rows (they act on the running score, so their weight comes in stage two).
VOLIDX_RISING, VOLIDX_FALLING = 1.0, -1.0
VOLCONF_CONFIRMS_LONG, VOLCONF_CONFIRMS_SHORT = 1, 2


@njit(cache=True)
def unit_range(X, fidx, enabled, P, start, end, U, uidx):
    """Stage one: each enabled scorer's contribution at weight 1 ("unit"), for candles [start, end).

    U[uidx[s], i] receives scorer s's unit for candle i, NaN while an input is missing (warm-up).
    The live-only scorers (book imbalance, density) have no readiness gate: a missing input is 0.
    The two filters write codes: the volatility index VOLIDX_RISING / VOLIDX_FALLING / 0, volume
    confirmation the sum of VOLCONF_CONFIRMS_LONG and VOLCONF_CONFIRMS_SHORT that hold.
    Reads features at indices <= i only (the range-kernel contract).
    """
    r_adx = X[fidx[F_ADX]]
    r_bb_l = X[fidx[F_BB_L]]
    r_bb_u = X[fidx[F_BB_U]]
    r_book_imb = X[fidx[F_BOOK_IMB]]
    r_candle = X[fidx[F_CANDLE]]
    r_cci = X[fidx[F_CCI]]
    r_close = X[fidx[F_CLOSE]]
    r_cmf = X[fidx[F_CMF]]
    r_dema = X[fidx[F_DEMA]]
    r_density = X[fidx[F_DENSITY]]
    r_ema_l = X[fidx[F_EMA_L]]
    r_ema_s = X[fidx[F_EMA_S]]
    r_fib_hi = X[fidx[F_FIB_HI]]
    r_fib_lo = X[fidx[F_FIB_LO]]
    r_kama = X[fidx[F_KAMA]]
    r_kelt_l = X[fidx[F_KELT_L]]
    r_kelt_u = X[fidx[F_KELT_U]]
    r_kijun = X[fidx[F_KIJUN]]
    r_macd = X[fidx[F_MACD]]
    r_macd_sig = X[fidx[F_MACD_SIG]]
    r_mdi = X[fidx[F_MDI]]
    r_mfi = X[fidx[F_MFI]]
    r_mstruct = X[fidx[F_MSTRUCT]]
    r_mtf_net = X[fidx[F_MTF_NET]]
    r_obv_gap = X[fidx[F_OBV_GAP]]
    r_pdi = X[fidx[F_PDI]]
    r_piv = X[fidx[F_PIV]]
    r_piv_r1 = X[fidx[F_PIV_R1]]
    r_piv_r2 = X[fidx[F_PIV_R2]]
    r_piv_s1 = X[fidx[F_PIV_S1]]
    r_piv_s2 = X[fidx[F_PIV_S2]]
    r_psar = X[fidx[F_PSAR]]
    r_psar_dir = X[fidx[F_PSAR_DIR]]
    r_relvol = X[fidx[F_RELVOL]]
    r_roc = X[fidx[F_ROC]]
    r_rsi = X[fidx[F_RSI]]
    r_sma_l = X[fidx[F_SMA_L]]
    r_sma_s = X[fidx[F_SMA_S]]
    r_span_a = X[fidx[F_SPAN_A]]
    r_span_b = X[fidx[F_SPAN_B]]
    r_stf_dir = X[fidx[F_STF_DIR]]
    r_stoch_d = X[fidx[F_STOCH_D]]
    r_stoch_k = X[fidx[F_STOCH_K]]
    r_sts_dir = X[fidx[F_STS_DIR]]
    r_tenkan = X[fidx[F_TENKAN]]
    r_vdelta = X[fidx[F_VDELTA]]
    r_volidx = X[fidx[F_VOLIDX]]
    r_volume = X[fidx[F_VOLUME]]
    r_vol_avg = X[fidx[F_VOL_AVG]]
    r_vwap = X[fidx[F_VWAP]]
    r_vwma = X[fidx[F_VWMA]]
    r_wr = X[fidx[F_WR]]
    nan = np.nan
    for i in range(start, end):
        if i < 2:
            for s in range(N_SCORERS):
                if enabled[s]:
                    U[uidx[s], i] = nan
            continue
        c = r_close[i]
        pc = r_close[i - 1]
        ppc = r_close[i - 2]
        tm = 1.0
        if P[P_ADX_TREND_MULT] > 0.0 and fidx[F_ADX] >= 0:
            a = r_adx[i]
            if not _nan(a):
                if a > P[P_ADX_STRONG]:
                    tm = 1.2
                elif a < P[P_ADX_WEAK]:
                    tm = 0.8

        if enabled[S_EMA]:
            es, el = r_ema_s[i], r_ema_l[i]
            U[uidx[S_EMA], i] = nan if _nan(es) or _nan(el) else _side(es, el, tm)
        if enabled[S_SMA_TREND]:
            sl = r_sma_l[i]
            U[uidx[S_SMA_TREND], i] = nan if _nan(sl) else _side(c, sl, tm)
        if enabled[S_RSI]:
            r = r_rsi[i]
            U[uidx[S_RSI], i] = nan if _nan(r) else (r - 50.0) / 50.0 * 0.5
        if enabled[S_STOCH]:
            kk, dd = r_stoch_k[i], r_stoch_d[i]
            pk, pd = r_stoch_k[i - 1], r_stoch_d[i - 1]
            v = 0.0
            if _nan(kk) or _nan(dd) or _nan(pk) or _nan(pd):
                v = nan
            elif _cross_up(kk, dd, pk, pd) and kk < P[P_STOCH_OS]:
                v = 0.6
            elif _cross_down(kk, dd, pk, pd) and kk > P[P_STOCH_OB]:
                v = -0.6
            elif kk > dd and kk < 50.0:
                v = 0.2
            elif kk < dd and kk > 50.0:
                v = -0.2
            U[uidx[S_STOCH], i] = v
        if enabled[S_CCI]:
            v = r_cci[i]
            U[uidx[S_CCI], i] = nan if _nan(v) else _band(v, P[P_CCI_OS], P[P_CCI_OB], 0.4)
        if enabled[S_WR]:
            v = r_wr[i]
            U[uidx[S_WR], i] = nan if _nan(v) else _band(v, P[P_WR_OS], P[P_WR_OB], 0.4)
        if enabled[S_MFI]:
            v = r_mfi[i]
            U[uidx[S_MFI], i] = nan if _nan(v) else _band(v, P[P_MFI_OS], P[P_MFI_OB], 0.4)
        if enabled[S_BB]:
            up, lo = r_bb_u[i], r_bb_l[i]
            U[uidx[S_BB], i] = nan if _nan(up) or _nan(lo) else _band(c, lo, up, 0.5)
        if enabled[S_VWAP]:
            vw, pvw = r_vwap[i], r_vwap[i - 1]
            if _nan(vw) or _nan(pvw):
                U[uidx[S_VWAP], i] = nan
            else:
                v = 0.2 if c > vw else (-0.2 if c < vw else 0.0)
                if _cross_up(c, vw, pc, pvw):
                    v += 0.3
                elif _cross_down(c, vw, pc, pvw):
                    v -= 0.3
                U[uidx[S_VWAP], i] = v * tm
        if enabled[S_PSAR]:
            sar, d, psar = r_psar[i], r_psar_dir[i], r_psar[i - 1]
            if _nan(sar) or _nan(d) or _nan(psar):
                U[uidx[S_PSAR], i] = nan
            else:
                v = 0.5 if d > 0 else (-0.5 if d < 0 else 0.0)
                if _cross_up(c, sar, pc, psar):
                    v += 0.4
                elif _cross_down(c, sar, pc, psar):
                    v -= 0.4
                U[uidx[S_PSAR], i] = v * tm
        if enabled[S_SMA10]:
            s10 = r_sma_s[i]
            U[uidx[S_SMA10], i] = nan if _nan(s10) else _side(c, s10, 0.5)
        if enabled[S_BOOK]:  # live only: no readiness gate
            imb = r_book_imb[i]
            U[uidx[S_BOOK], i] = 0.0 if _nan(imb) else imb
        if enabled[S_FIB]:
            hi, lo = r_fib_hi[i], r_fib_lo[i]
            v = 0.0
            if _nan(hi) or _nan(lo):
                v = nan
            elif hi > lo:
                for r in FIB_RATIOS_SCORED:
                    level = hi - (hi - lo) * r
                    if abs(c - level) / c < P[P_FIB_TOLERANCE]:
                        if c > pc and c > level:
                            v += 0.1
                        elif c < pc and c < level:
                            v -= 0.1
            U[uidx[S_FIB], i] = v
        if enabled[S_ST]:
            fd, sd, pfd = r_stf_dir[i], r_sts_dir[i], r_stf_dir[i - 1]
            v = 0.0
            if _nan(fd) or _nan(sd) or _nan(pfd):
                v = nan
            elif sd > 0 and fd > 0 and pfd < 0:
                v = tm
            elif sd < 0 and fd < 0 and pfd > 0:
                v = -tm
            elif sd > 0 and fd > 0:
                v = 0.3 * tm
            elif sd < 0 and fd < 0:
                v = -0.3 * tm
            U[uidx[S_ST], i] = v
        if enabled[S_MACD]:
            ml, ms = r_macd[i], r_macd_sig[i]
            pml, pms = r_macd[i - 1], r_macd_sig[i - 1]
            U[uidx[S_MACD], i] = nan if _nan(ml) or _nan(ms) or _nan(pml) or _nan(pms) \
                else _cross(ml, ms, pml, pms, tm)
        if enabled[S_ADX]:
            a, pdi, mdi = r_adx[i], r_pdi[i], r_mdi[i]
            v = 0.0
            if _nan(a) or _nan(pdi) or _nan(mdi):
                v = nan
            elif a > P[P_ADX_STRONG]:
                if pdi > mdi:
                    v = 1.0
                elif mdi > pdi:
                    v = -1.0
            U[uidx[S_ADX], i] = v
        if enabled[S_ICHI]:
            off = int(P[P_CHIKOU_OFFSET])
            tk, kj = r_tenkan[i], r_kijun[i]
            ptk, pkj = r_tenkan[i - 1], r_kijun[i - 1]
            sa, sb = r_span_a[i], r_span_b[i]
            psa, psb = r_span_a[i - 1], r_span_b[i - 1]
            if (i - 1 - off < 0 or _nan(tk) or _nan(kj) or _nan(ptk) or _nan(pkj) or _nan(sa) or _nan(sb)
                    or _nan(psa) or _nan(psb)):
                U[uidx[S_ICHI], i] = nan
            else:
                v = 0.0
                if _cross_up(tk, kj, ptk, pkj):
                    v += 0.5
                elif _cross_down(tk, kj, ptk, pkj):
                    v -= 0.5
                top, bot = max(sa, sb), min(sa, sb)
                ptop, pbot = max(psa, psb), min(psa, psb)
                if c > top and pc <= ptop:
                    v += 0.7
                elif c < bot and pc >= pbot:
                    v -= 0.7
                # Chikou: the current close against the close `off` candles earlier (no look-ahead).
                ref, pref = r_close[i - off], r_close[i - 1 - off]
                if _cross_up(c, ref, pc, pref):
                    v += 0.3
                elif _cross_down(c, ref, pc, pref):
                    v -= 0.3
                U[uidx[S_ICHI], i] = v * tm
        if enabled[S_OBV]:
            g, pg = r_obv_gap[i], r_obv_gap[i - 1]
            if _nan(g) or _nan(pg):
                U[uidx[S_OBV], i] = nan
            else:
                v = 0.0
                if g > 0.0 and pg <= 0.0:
                    v += 0.5
                elif g < 0.0 and pg >= 0.0:
                    v -= 0.5
                # OBV above both previous values <=> the last step, and the last two steps, rose.
                vol, pvol = r_volume[i], r_volume[i - 1]
                d1 = vol if c > pc else (-vol if c < pc else 0.0)
                d2 = pvol if pc > ppc else (-pvol if pc < ppc else 0.0)
                if d1 > 0.0 and d1 + d2 > 0.0:
                    v += 0.2
                elif d1 < 0.0 and d1 + d2 < 0.0:
                    v -= 0.2
                U[uidx[S_OBV], i] = v
        if enabled[S_CMF]:
            cm, pcm, ppcm = r_cmf[i], r_cmf[i - 1], r_cmf[i - 2]
            if _nan(cm) or _nan(pcm) or _nan(ppcm):
                U[uidx[S_CMF], i] = nan
            else:
                v = 0.5 if cm > 0.0 else (-0.5 if cm < 0.0 else 0.0)
                if cm > pcm and cm > ppcm:
                    v += 0.3
                elif cm < pcm and cm < ppcm:
                    v -= 0.3
                U[uidx[S_CMF], i] = v
        if enabled[S_VWMA]:
            vw, pvw = r_vwma[i], r_vwma[i - 1]
            U[uidx[S_VWMA], i] = nan if _nan(vw) or _nan(pvw) else _cross(c, vw, pc, pvw, 1.0)
        if enabled[S_VDELTA]:
            vd = r_vdelta[i]
            v = 0.0
            if _nan(vd):
                v = nan
            elif vd > P[P_VD_THRESHOLD]:
                v = 1.0
            elif vd < -P[P_VD_THRESHOLD]:
                v = -1.0
            elif vd > 0.0:
                v = 0.3
            elif vd < 0.0:
                v = -0.3
            U[uidx[S_VDELTA], i] = v
        if enabled[S_MTF]:
            net = r_mtf_net[i]
            U[uidx[S_MTF], i] = nan if _nan(net) else net / P[P_MTF_ENTRIES]
        if enabled[S_DENSITY]:  # live only: no readiness gate
            dn = r_density[i]
            U[uidx[S_DENSITY], i] = 0.0 if _nan(dn) else dn
        if enabled[S_KAMA]:
            ka, pka = r_kama[i], r_kama[i - 1]
            U[uidx[S_KAMA], i] = nan if _nan(ka) or _nan(pka) else _cross(c, ka, pc, pka, tm)
        if enabled[S_DEMA]:
            de, pde = r_dema[i], r_dema[i - 1]
            es, pes = r_ema_s[i], r_ema_s[i - 1]
            U[uidx[S_DEMA], i] = nan if _nan(de) or _nan(pde) or _nan(es) or _nan(pes) \
                else _cross(de, es, pde, pes, tm)
        if enabled[S_KELT]:
            ku, kl = r_kelt_u[i], r_kelt_l[i]
            pku, pkl = r_kelt_u[i - 1], r_kelt_l[i - 1]
            v = 0.0
            if _nan(ku) or _nan(kl) or _nan(pku) or _nan(pkl):
                v = nan
            elif _cross_up(c, ku, pc, pku):
                v = 1.0
            elif _cross_down(c, kl, pc, pkl):
                v = -1.0
            U[uidx[S_KELT], i] = v
        if enabled[S_ROC]:
            ro, pro = r_roc[i], r_roc[i - 1]
            if _nan(ro) or _nan(pro):
                U[uidx[S_ROC], i] = nan
            else:
                v = 0.7 if ro < P[P_ROC_OS] else (-0.7 if ro > P[P_ROC_OB] else 0.0)
                if ro > 0.0 and pro <= 0.0:
                    v += 0.3 * tm
                elif ro < 0.0 and pro >= 0.0:
                    v -= 0.3 * tm
                U[uidx[S_ROC], i] = v
        if enabled[S_RELVOL]:
            rv = r_relvol[i]
            v = 0.0
            if _nan(rv):
                v = nan
            elif rv >= P[P_RELVOL_THRESHOLD]:
                if c > pc:
                    v = 1.0
                elif c < pc:
                    v = -1.0
            U[uidx[S_RELVOL], i] = v
        if enabled[S_MSTRUCT]:
            ms_ = r_mstruct[i]
            U[uidx[S_MSTRUCT], i] = nan if _nan(ms_) else _side(ms_, 0.0, tm)
        if enabled[S_CANDLE]:
            cs = r_candle[i]
            U[uidx[S_CANDLE], i] = nan if _nan(cs) else _side(cs, 0.0, 1.0)
        if enabled[S_PIVOT]:
            pv, r1, r2 = r_piv[i], r_piv_r1[i], r_piv_r2[i]
            s1, s2 = r_piv_s1[i], r_piv_s2[i]
            v = 0.0
            if _nan(pv) or _nan(r1) or _nan(r2) or _nan(s1) or _nan(s2):
                v = nan
            # The highest level crossed counts (the original scored only the first match).
            elif pc <= r2 < c:
                v = 1.0
            elif pc <= r1 < c:
                v = 0.5
            elif pc <= pv < c:
                v = 0.2
            elif pc >= s2 > c:
                v = -1.0
            elif pc >= s1 > c:
                v = -0.5
            elif pc >= pv > c:
                v = -0.2
            U[uidx[S_PIVOT], i] = v
        if enabled[S_VOLIDX]:
            vi, pvi, ppvi = r_volidx[i], r_volidx[i - 1], r_volidx[i - 2]
            v = 0.0
            if _nan(vi) or _nan(pvi) or _nan(ppvi):
                v = nan
            elif vi > pvi and pvi > ppvi:
                v = VOLIDX_RISING
            elif vi < pvi and pvi < ppvi:
                v = VOLIDX_FALLING
            U[uidx[S_VOLIDX], i] = v
        if enabled[S_VOLCONF]:
            vol, avg, vd = r_volume[i], r_vol_avg[i], r_vdelta[i]
            if _nan(avg) or _nan(vd):
                U[uidx[S_VOLCONF], i] = nan
            else:
                loud = vol > avg * P[P_VOLCONF_MULT]
                code = 0
                if loud or vd > P[P_VD_THRESHOLD]:
                    code += VOLCONF_CONFIRMS_LONG
                if loud or vd < -P[P_VD_THRESHOLD]:
                    code += VOLCONF_CONFIRMS_SHORT
                U[uidx[S_VOLCONF], i] = float(code)


@njit(cache=True)
def combine_range(U, uidx, enabled, weights, start, end, scores, ready, out_base, breakdown, want_breakdown):
    """Stage two: the weighted score of candles [start, end) from the unit rows of `unit_range`.

    Each directional scorer adds weight x unit, in scorer order; then the volatility index scales
    the running score and volume confirmation may halve it. scores[out_base + k] / ready[out_base + k]
    receive candle start + k; `ready` is False while an enabled candle-based scorer's unit is NaN.
    With want_breakdown, breakdown[s, k] receives each scorer's contribution (0 when silent).
    The running score is summed scorer by scorer over the whole range (the order of the additions
    for each candle is the scorer order either way), which lets the loops vectorise.
    """
    m = end - start
    if want_breakdown:
        breakdown[:, :m] = 0.0
    acc = np.zeros(m)
    good = np.ones(m, dtype=np.uint8)
    for s in range(N_SCORERS):
        if not enabled[s] or s == S_VOLIDX or s == S_VOLCONF:
            continue
        row = U[uidx[s], start:end]
        w = weights[s]
        if want_breakdown:
            for k in range(m):
                u = row[k]
                if _nan(u):
                    good[k] = 0
                else:
                    c = w * u
                    acc[k] += c
                    breakdown[s, k] = c
        else:  # branch-free, so it vectorises: a NaN unit makes the score NaN below anyway
            for k in range(m):
                u = row[k]
                acc[k] += w * u
                good[k] &= u == u
    for k in range(m):
        i = start + k
        o = out_base + k
        if i < 2:
            scores[o] = np.nan
            ready[o] = False
            continue
        running = acc[k]
        ok = good[k] != 0
        if enabled[S_VOLIDX]:
            code = U[uidx[S_VOLIDX], i]
            c = 0.0
            if _nan(code):
                ok = False
            elif code == VOLIDX_RISING:
                if running > 0.0:
                    c = 0.2 * weights[S_VOLIDX]
                elif running < 0.0:
                    c = -0.2 * weights[S_VOLIDX]
            elif code == VOLIDX_FALLING:
                c = -0.2 * running
            running += c
            if want_breakdown:
                breakdown[S_VOLIDX, k] = c
        if enabled[S_VOLCONF]:
            code = U[uidx[S_VOLCONF], i]
            if _nan(code):
                ok = False
            elif running != 0.0:
                confirms = VOLCONF_CONFIRMS_LONG if running > 0.0 else VOLCONF_CONFIRMS_SHORT
                if int(code) & confirms == 0:
                    c = -0.5 * running
                    running += c
                    if want_breakdown:
                        breakdown[S_VOLCONF, k] = c
        scores[o] = running if ok else np.nan
        ready[o] = ok
