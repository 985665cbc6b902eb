"""Scoring: every scorer of docs/strategy.md#scorers as one numba range kernel over the feature matrix.

`score_range` follows the engine's range-kernel contract: it writes results for candles
[start, end) reading features at indices <= i only, so the backtest (large chunks) and the
live loop (one candle at a time) compute bit-identical scores.
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


@njit(cache=True)
def score_range(X, fidx, enabled, weights, P, start, end, scores, ready, out_base, breakdown, want_breakdown):
    """Score candles [start, end) of the feature matrix X.

    scores[out_base + k] / ready[out_base + k] receive candle start + k; `ready` is False while an
    enabled candle-based scorer still lacks an input (warm-up). With want_breakdown, breakdown[s, k]
    receives each scorer's contribution (0 when silent).
    """
    # Row views, taken once (a feature no enabled scorer reads has fidx -1: its view is never read).
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
    contrib = np.zeros(N_SCORERS)
    for i in range(start, end):
        k = out_base + (i - start)
        contrib[:] = 0.0
        ok = i >= 2
        if not ok:
            scores[k] = np.nan
            ready[k] = False
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
            if _nan(es) or _nan(el):
                ok = False
            else:
                contrib[S_EMA] = _side(es, el, weights[S_EMA] * tm)
        if enabled[S_SMA_TREND]:
            sl = r_sma_l[i]
            if _nan(sl):
                ok = False
            else:
                contrib[S_SMA_TREND] = _side(c, sl, weights[S_SMA_TREND] * tm)
        if enabled[S_RSI]:
            r = r_rsi[i]
            if _nan(r):
                ok = False
            else:
                contrib[S_RSI] = (r - 50.0) / 50.0 * weights[S_RSI] * 0.5
        if enabled[S_STOCH]:
            kk, dd = r_stoch_k[i], r_stoch_d[i]
            pk, pd = r_stoch_k[i - 1], r_stoch_d[i - 1]
            m = weights[S_STOCH]
            if _nan(kk) or _nan(dd) or _nan(pk) or _nan(pd):
                ok = False
            elif _cross_up(kk, dd, pk, pd) and kk < P[P_STOCH_OS]:
                contrib[S_STOCH] = 0.6 * m
            elif _cross_down(kk, dd, pk, pd) and kk > P[P_STOCH_OB]:
                contrib[S_STOCH] = -0.6 * m
            elif kk > dd and kk < 50.0:
                contrib[S_STOCH] = 0.2 * m
            elif kk < dd and kk > 50.0:
                contrib[S_STOCH] = -0.2 * m
        if enabled[S_CCI]:
            v = r_cci[i]
            if _nan(v):
                ok = False
            else:
                contrib[S_CCI] = _band(v, P[P_CCI_OS], P[P_CCI_OB], 0.4 * weights[S_CCI])
        if enabled[S_WR]:
            v = r_wr[i]
            if _nan(v):
                ok = False
            else:
                contrib[S_WR] = _band(v, P[P_WR_OS], P[P_WR_OB], 0.4 * weights[S_WR])
        if enabled[S_MFI]:
            v = r_mfi[i]
            if _nan(v):
                ok = False
            else:
                contrib[S_MFI] = _band(v, P[P_MFI_OS], P[P_MFI_OB], 0.4 * weights[S_MFI])
        if enabled[S_BB]:
            up, lo = r_bb_u[i], r_bb_l[i]
            if _nan(up) or _nan(lo):
                ok = False
            else:
                contrib[S_BB] = _band(c, lo, up, 0.5 * weights[S_BB])
        if enabled[S_VWAP]:
            vw, pvw = r_vwap[i], r_vwap[i - 1]
            if _nan(vw) or _nan(pvw):
                ok = False
            else:
                w = weights[S_VWAP]
                v = 0.0
                if c > vw:
                    v = 0.2 * w
                elif c < vw:
                    v = -0.2 * w
                if _cross_up(c, vw, pc, pvw):
                    v += 0.3 * w
                elif _cross_down(c, vw, pc, pvw):
                    v -= 0.3 * w
                contrib[S_VWAP] = v * tm
        if enabled[S_PSAR]:
            sar, d, psar = r_psar[i], r_psar_dir[i], r_psar[i - 1]
            if _nan(sar) or _nan(d) or _nan(psar):
                ok = False
            else:
                w = weights[S_PSAR]
                v = 0.0
                if d > 0:
                    v = 0.5 * w
                elif d < 0:
                    v = -0.5 * w
                if _cross_up(c, sar, pc, psar):
                    v += 0.4 * w
                elif _cross_down(c, sar, pc, psar):
                    v -= 0.4 * w
                contrib[S_PSAR] = v * tm
        if enabled[S_SMA10]:
            s10 = r_sma_s[i]
            if _nan(s10):
                ok = False
            else:
                contrib[S_SMA10] = _side(c, s10, 0.5 * weights[S_SMA10])
        if enabled[S_BOOK]:  # live only: no readiness gate
            imb = r_book_imb[i]
            if not _nan(imb):
                contrib[S_BOOK] = imb * weights[S_BOOK]
        if enabled[S_FIB]:
            hi, lo = r_fib_hi[i], r_fib_lo[i]
            if _nan(hi) or _nan(lo):
                ok = False
            elif hi > lo:
                w = weights[S_FIB]
                v = 0.0
                for r in FIB_RATIOS_SCORED:
                    level = hi - (hi - lo) * r
                    if abs(c - level) / c < P[P_FIB_TOLERANCE]:
                        if c > pc and c > level:
                            v += 0.1 * w
                        elif c < pc and c < level:
                            v -= 0.1 * w
                contrib[S_FIB] = v
        if enabled[S_ST]:
            fd, sd, pfd = r_stf_dir[i], r_sts_dir[i], r_stf_dir[i - 1]
            if _nan(fd) or _nan(sd) or _nan(pfd):
                ok = False
            else:
                w = weights[S_ST]
                if sd > 0 and fd > 0 and pfd < 0:
                    contrib[S_ST] = w * tm
                elif sd < 0 and fd < 0 and pfd > 0:
                    contrib[S_ST] = -w * tm
                elif sd > 0 and fd > 0:
                    contrib[S_ST] = 0.3 * w * tm
                elif sd < 0 and fd < 0:
                    contrib[S_ST] = -0.3 * w * tm
        if enabled[S_MACD]:
            ml, ms = r_macd[i], r_macd_sig[i]
            pml, pms = r_macd[i - 1], r_macd_sig[i - 1]
            if _nan(ml) or _nan(ms) or _nan(pml) or _nan(pms):
                ok = False
            else:
                contrib[S_MACD] = _cross(ml, ms, pml, pms, weights[S_MACD] * tm)
        if enabled[S_ADX]:
            a, pdi, mdi = r_adx[i], r_pdi[i], r_mdi[i]
            if _nan(a) or _nan(pdi) or _nan(mdi):
                ok = False
            elif a > P[P_ADX_STRONG]:
                if pdi > mdi:
                    contrib[S_ADX] = weights[S_ADX]
                elif mdi > pdi:
                    contrib[S_ADX] = -weights[S_ADX]
        if enabled[S_ICHI]:
            off = int(P[P_CHIKOU_OFFSET])
            tk, kj = r_tenkan[i], r_kijun[i]
            ptk, pkj = r_tenkan[i - 1], r_kijun[i - 1]
            sa, sb = r_span_a[i], r_span_b[i]
            psa, psb = r_span_a[i - 1], r_span_b[i - 1]
            if (i - 1 - off < 0 or _nan(tk) or _nan(kj) or _nan(ptk) or _nan(pkj) or _nan(sa) or _nan(sb)
                    or _nan(psa) or _nan(psb)):
                ok = False
            else:
                w = weights[S_ICHI]
                v = 0.0
                if _cross_up(tk, kj, ptk, pkj):
                    v += 0.5 * w
                elif _cross_down(tk, kj, ptk, pkj):
                    v -= 0.5 * w
                top, bot = max(sa, sb), min(sa, sb)
                ptop, pbot = max(psa, psb), min(psa, psb)
                if c > top and pc <= ptop:
                    v += 0.7 * w
                elif c < bot and pc >= pbot:
                    v -= 0.7 * w
                # Chikou: the current close against the close `off` candles earlier (no look-ahead).
                ref, pref = r_close[i - off], r_close[i - 1 - off]
                if _cross_up(c, ref, pc, pref):
                    v += 0.3 * w
                elif _cross_down(c, ref, pc, pref):
                    v -= 0.3 * w
                contrib[S_ICHI] = v * tm
        if enabled[S_OBV]:
            g, pg = r_obv_gap[i], r_obv_gap[i - 1]
            if _nan(g) or _nan(pg):
                ok = False
            else:
                w = weights[S_OBV]
                v = 0.0
                if g > 0.0 and pg <= 0.0:
                    v += 0.5 * w
                elif g < 0.0 and pg >= 0.0:
                    v -= 0.5 * w
                # OBV above both previous values <=> the last step, and the last two steps, rose.
                vol, pvol = r_volume[i], r_volume[i - 1]
                d1 = vol if c > pc else (-vol if c < pc else 0.0)
                d2 = pvol if pc > ppc else (-pvol if pc < ppc else 0.0)
                if d1 > 0.0 and d1 + d2 > 0.0:
                    v += 0.2 * w
                elif d1 < 0.0 and d1 + d2 < 0.0:
                    v -= 0.2 * w
                contrib[S_OBV] = v
        if enabled[S_CMF]:
            cm, pcm, ppcm = r_cmf[i], r_cmf[i - 1], r_cmf[i - 2]
            if _nan(cm) or _nan(pcm) or _nan(ppcm):
                ok = False
            else:
                w = weights[S_CMF]
                v = 0.0
                if cm > 0.0:
                    v = 0.5 * w
                elif cm < 0.0:
                    v = -0.5 * w
                if cm > pcm and cm > ppcm:
                    v += 0.3 * w
                elif cm < pcm and cm < ppcm:
                    v -= 0.3 * w
                contrib[S_CMF] = v
        if enabled[S_VWMA]:
            vw, pvw = r_vwma[i], r_vwma[i - 1]
            if _nan(vw) or _nan(pvw):
                ok = False
            else:
                contrib[S_VWMA] = _cross(c, vw, pc, pvw, weights[S_VWMA])
        if enabled[S_VDELTA]:
            vd = r_vdelta[i]
            w = weights[S_VDELTA]
            if _nan(vd):
                ok = False
            elif vd > P[P_VD_THRESHOLD]:
                contrib[S_VDELTA] = w
            elif vd < -P[P_VD_THRESHOLD]:
                contrib[S_VDELTA] = -w
            elif vd > 0.0:
                contrib[S_VDELTA] = 0.3 * w
            elif vd < 0.0:
                contrib[S_VDELTA] = -0.3 * w
        if enabled[S_MTF]:
            net = r_mtf_net[i]
            if _nan(net):
                ok = False
            else:
                contrib[S_MTF] = weights[S_MTF] * net / P[P_MTF_ENTRIES]
        if enabled[S_DENSITY]:  # live only: no readiness gate
            dn = r_density[i]
            if not _nan(dn):
                contrib[S_DENSITY] = dn * weights[S_DENSITY]
        if enabled[S_KAMA]:
            ka, pka = r_kama[i], r_kama[i - 1]
            if _nan(ka) or _nan(pka):
                ok = False
            else:
                contrib[S_KAMA] = _cross(c, ka, pc, pka, weights[S_KAMA] * tm)
        if enabled[S_DEMA]:
            de, pde = r_dema[i], r_dema[i - 1]
            es, pes = r_ema_s[i], r_ema_s[i - 1]
            if _nan(de) or _nan(pde) or _nan(es) or _nan(pes):
                ok = False
            else:
                contrib[S_DEMA] = _cross(de, es, pde, pes, weights[S_DEMA] * tm)
        if enabled[S_KELT]:
            ku, kl = r_kelt_u[i], r_kelt_l[i]
            pku, pkl = r_kelt_u[i - 1], r_kelt_l[i - 1]
            if _nan(ku) or _nan(kl) or _nan(pku) or _nan(pkl):
                ok = False
            elif _cross_up(c, ku, pc, pku):
                contrib[S_KELT] = weights[S_KELT]
            elif _cross_down(c, kl, pc, pkl):
                contrib[S_KELT] = -weights[S_KELT]
        if enabled[S_ROC]:
            ro, pro = r_roc[i], r_roc[i - 1]
            if _nan(ro) or _nan(pro):
                ok = False
            else:
                w = weights[S_ROC]
                v = 0.0
                if ro < P[P_ROC_OS]:
                    v = 0.7 * w
                elif ro > P[P_ROC_OB]:
                    v = -0.7 * w
                if ro > 0.0 and pro <= 0.0:
                    v += 0.3 * w * tm
                elif ro < 0.0 and pro >= 0.0:
                    v -= 0.3 * w * tm
                contrib[S_ROC] = v
        if enabled[S_RELVOL]:
            rv = r_relvol[i]
            if _nan(rv):
                ok = False
            elif rv >= P[P_RELVOL_THRESHOLD]:
                if c > pc:
                    contrib[S_RELVOL] = weights[S_RELVOL]
                elif c < pc:
                    contrib[S_RELVOL] = -weights[S_RELVOL]
        if enabled[S_MSTRUCT]:
            ms_ = r_mstruct[i]
            if _nan(ms_):
                ok = False
            else:
                contrib[S_MSTRUCT] = _side(ms_, 0.0, weights[S_MSTRUCT] * tm)
        if enabled[S_CANDLE]:
            cs = r_candle[i]
            if _nan(cs):
                ok = False
            else:
                contrib[S_CANDLE] = _side(cs, 0.0, weights[S_CANDLE])
        if enabled[S_PIVOT]:
            pv, r1, r2 = r_piv[i], r_piv_r1[i], r_piv_r2[i]
            s1, s2 = r_piv_s1[i], r_piv_s2[i]
            if _nan(pv) or _nan(r1) or _nan(r2) or _nan(s1) or _nan(s2):
                ok = False
            else:
                w = weights[S_PIVOT]
                # The highest level crossed counts (the original scored only the first match).
                if pc <= r2 < c:
                    contrib[S_PIVOT] = 1.0 * w
                elif pc <= r1 < c:
                    contrib[S_PIVOT] = 0.5 * w
                elif pc <= pv < c:
                    contrib[S_PIVOT] = 0.2 * w
                elif pc >= s2 > c:
                    contrib[S_PIVOT] = -1.0 * w
                elif pc >= s1 > c:
                    contrib[S_PIVOT] = -0.5 * w
                elif pc >= pv > c:
                    contrib[S_PIVOT] = -0.2 * w

        running = 0.0
        for s in range(N_SCORERS):
            running += contrib[s]
        if enabled[S_VOLIDX]:
            vi, pvi, ppvi = r_volidx[i], r_volidx[i - 1], r_volidx[i - 2]
            if _nan(vi) or _nan(pvi) or _nan(ppvi):
                ok = False
            elif vi > pvi and pvi > ppvi:
                if running > 0.0:
                    contrib[S_VOLIDX] = 0.2 * weights[S_VOLIDX]
                elif running < 0.0:
                    contrib[S_VOLIDX] = -0.2 * weights[S_VOLIDX]
            elif vi < pvi and pvi < ppvi:
                contrib[S_VOLIDX] = -0.2 * running
            running += contrib[S_VOLIDX]
        if enabled[S_VOLCONF]:
            vol, avg, vd = r_volume[i], r_vol_avg[i], r_vdelta[i]
            if _nan(avg) or _nan(vd):
                ok = False
            elif running != 0.0:
                confirmed = vol > avg * P[P_VOLCONF_MULT]
                if running > 0.0 and vd > P[P_VD_THRESHOLD]:
                    confirmed = True
                elif running < 0.0 and vd < -P[P_VD_THRESHOLD]:
                    confirmed = True
                if not confirmed:
                    contrib[S_VOLCONF] = -0.5 * running
                    running += contrib[S_VOLCONF]
        scores[k] = running if ok else np.nan
        ready[k] = ok
        if want_breakdown:
            for s in range(N_SCORERS):
                breakdown[s, i - start] = contrib[s]
