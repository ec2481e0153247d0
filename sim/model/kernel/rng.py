"""Every run's random streams, drawn inside the kernels: numpy's SeedSequence and PCG64, bit for bit.

The numpy engine gives run k of seed s a `Generator(PCG64(SeedSequence(s, spawn_key=(k, stream))))`
per stream (sim.model.model._stream). Building those objects costs about 15 µs each, more than a
compiled round, so here the seeding (SeedSequence's hash mixing, PCG64's 128-bit LCG set-up), the
jump ahead, uniform doubles and the ziggurat normals are the same algorithms written over plain
integers: the same numbers, drawn in the order the numpy engine draws them. tests/test_engine.py
checks them against numpy's own generators.

A PCG64 state is four uint64 words: state (high, low) and increment (high, low).
"""

from __future__ import annotations

import numpy as np

from sim.model.kernel import jit, kernel, part

try:  # numpy's ziggurat tables, as numba's own Generator support carries them
    from numba.np.random._constants import (
        fi_double,
        ki_double,
        wi_double,
        ziggurat_nor_inv_r,
        ziggurat_nor_r,
    )
except ImportError:  # pragma: no cover - the compiled engine is not used without numba
    fi_double = ki_double = wi_double = np.zeros(256)
    ziggurat_nor_inv_r = ziggurat_nor_r = 0.0

_M32 = np.uint64(0xFFFFFFFF)
_INIT_A, _MULT_A = np.uint64(0x43B0D7E5), np.uint64(0x931E8875)
_INIT_B, _MULT_B = np.uint64(0x8B51F9DD), np.uint64(0x58F38DED)
_MIX_L, _MIX_R = np.uint64(0xCA01F9DD), np.uint64(0x4973F715)
_S16, _S32, _S63, _S58, _S11 = np.uint64(16), np.uint64(32), np.uint64(63), np.uint64(58), np.uint64(11)
_ONE, _ZERO = np.uint64(1), np.uint64(0)
_PCG_HI, _PCG_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)
_TO_DOUBLE = 1.0 / 9007199254740992.0
_LOW52 = np.uint64(0x000FFFFFFFFFFFFF)
_BYTE = np.uint64(0xFF)


def seed_words(seed: int) -> np.ndarray:
    """The entropy words SeedSequence makes of an integer seed, padded to its pool of four."""
    seed = int(seed)
    if seed < 0:
        raise ValueError("seeds are non-negative")
    words = [0] if seed == 0 else []
    while seed:
        words.append(seed & 0xFFFFFFFF)
        seed >>= 32
    return np.array(words + [0] * max(0, 4 - len(words)), dtype=np.uint64)


@jit
def _hashmix(value, hash_const):
    value = value ^ hash_const
    hash_const = (hash_const * _MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> _S16), hash_const


@jit
def _mix(x, y):
    result = ((_MIX_L * x) - (_MIX_R * y)) & _M32
    return result ^ (result >> _S16)


@jit
def _append_words(out, n, value):
    if value == 0:
        out[n] = _ZERO
        return n + 1
    v = np.uint64(value)
    while v != _ZERO:
        out[n] = v & _M32
        v = v >> _S32
        n += 1
    return n


@kernel(allocates=True)
def pcg_seed(words, run, stream, out):
    """Set `out` (4,) to the PCG64 state of SeedSequence(seed, spawn_key=(run, stream)); words from seed_words."""
    entropy = np.empty(len(words) + 4, dtype=np.uint64)
    entropy[:len(words)] = words
    n = _append_words(entropy, len(words), run)
    n = _append_words(entropy, n, stream)
    hc = _INIT_A
    pool = np.empty(4, dtype=np.uint64)
    for i in range(4):
        pool[i], hc = _hashmix(entropy[i] if i < n else _ZERO, hc)
    for i_src in range(4):
        for i_dst in range(4):
            if i_src != i_dst:
                h, hc = _hashmix(pool[i_src], hc)
                pool[i_dst] = _mix(pool[i_dst], h)
    for i_src in range(4, n):
        for i_dst in range(4):
            h, hc = _hashmix(entropy[i_src], hc)
            pool[i_dst] = _mix(pool[i_dst], h)
    hb = _INIT_B
    state = np.empty(8, dtype=np.uint64)
    for i in range(8):
        v = pool[i % 4] ^ hb
        hb = (hb * _MULT_B) & _M32
        v = (v * hb) & _M32
        state[i] = v ^ (v >> _S16)
    seed_hi = state[0] | (state[1] << _S32)
    seed_lo = state[2] | (state[3] << _S32)
    inc_hi = state[4] | (state[5] << _S32)
    inc_lo = state[6] | (state[7] << _S32)
    out[2] = (inc_hi << _ONE) | (inc_lo >> _S63)
    out[3] = (inc_lo << _ONE) | _ONE
    out[0] = _ZERO
    out[1] = _ZERO
    _step(out)
    lo = out[1] + seed_lo
    out[0] = out[0] + seed_hi + (_ONE if lo < out[1] else _ZERO)
    out[1] = lo
    _step(out)


@jit
def _mulhi(a, b):
    a0, a1 = a & _M32, a >> _S32
    b0, b1 = b & _M32, b >> _S32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _S32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _S32) + (p10 >> _S32) + (mid >> _S32)


@jit
def _mul128(a_hi, a_lo, b_hi, b_lo):
    return _mulhi(a_lo, b_lo) + a_hi * b_lo + a_lo * b_hi, a_lo * b_lo


@jit
def _add128(a_hi, a_lo, b_hi, b_lo):
    lo = a_lo + b_lo
    return a_hi + b_hi + (_ONE if lo < a_lo else _ZERO), lo


@jit
def _step(s):
    hi, lo = _mul128(s[0], s[1], _PCG_HI, _PCG_LO)
    s[0], s[1] = _add128(hi, lo, s[2], s[3])


@jit
def next_uint64(s):
    """PCG64's next 64 bits (XSL-RR output of the stepped state)."""
    _step(s)
    v = s[0] ^ s[1]
    rot = s[0] >> _S58
    return (v >> rot) | (v << ((np.uint64(64) - rot) & _S63))


@jit
def next_double(s):
    """A uniform double in [0, 1), as Generator.random draws it."""
    return np.float64(next_uint64(s) >> _S11) * _TO_DOUBLE


@part
def next_normal(s):
    """A standard normal, as Generator.standard_normal draws it (numpy's ziggurat)."""
    while True:
        r = next_uint64(s)
        idx = np.int64(r & _BYTE)
        r = r >> np.uint64(8)
        rabs = (r >> _ONE) & _LOW52
        x = np.float64(rabs) * wi_double[idx]
        if r & _ONE:
            x = -x
        if rabs < ki_double[idx]:
            return x
        if idx == 0:
            while True:
                xx = -ziggurat_nor_inv_r * np.log1p(-next_double(s))
                yy = -np.log1p(-next_double(s))
                if yy + yy > xx * xx:
                    if (rabs >> np.uint64(8)) & _ONE:
                        return -(ziggurat_nor_r + xx)
                    return ziggurat_nor_r + xx
        else:
            if (fi_double[idx - 1] - fi_double[idx]) * next_double(s) + fi_double[idx] < np.exp(-0.5 * x * x):
                return x


@part
def advance(s, delta):
    """Jump the stream `delta` (>= 0) draws ahead, as BitGenerator.advance does."""
    acc_mul_hi, acc_mul_lo = _ZERO, _ONE
    acc_add_hi, acc_add_lo = _ZERO, _ZERO
    cur_mul_hi, cur_mul_lo = _PCG_HI, _PCG_LO
    cur_add_hi, cur_add_lo = s[2], s[3]
    d = np.uint64(delta)
    while d > _ZERO:
        if d & _ONE:
            acc_mul_hi, acc_mul_lo = _mul128(acc_mul_hi, acc_mul_lo, cur_mul_hi, cur_mul_lo)
            hi, lo = _mul128(acc_add_hi, acc_add_lo, cur_mul_hi, cur_mul_lo)
            acc_add_hi, acc_add_lo = _add128(hi, lo, cur_add_hi, cur_add_lo)
        m_hi, m_lo = _add128(cur_mul_hi, cur_mul_lo, _ZERO, _ONE)
        cur_add_hi, cur_add_lo = _mul128(m_hi, m_lo, cur_add_hi, cur_add_lo)
        cur_mul_hi, cur_mul_lo = _mul128(cur_mul_hi, cur_mul_lo, cur_mul_hi, cur_mul_lo)
        d = d >> _ONE
    hi, lo = _mul128(acc_mul_hi, acc_mul_lo, s[0], s[1])
    s[0], s[1] = _add128(hi, lo, acc_add_hi, acc_add_lo)


@kernel(allocates=True)
def draw_runs(words, run_ids, n_actors, n_events, max_rounds, accept_stream, front_stream, talks_stream,
              accept, events, front_state, talks_state):
    """Seed every run's streams and draw what is drawn up front: `accept` (R, A) uniforms, `events`
    (R, E) uniforms (the talks stream after its 2 * max_rounds per-round draws), and the starting
    states of the front and talks streams (R, 4), from which the kernels draw round by round."""
    s = np.empty(4, dtype=np.uint64)
    for r in range(len(run_ids)):
        pcg_seed(words, run_ids[r], accept_stream, s)
        for a in range(n_actors):
            accept[r, a] = next_double(s)
        pcg_seed(words, run_ids[r], talks_stream, talks_state[r])
        pcg_seed(words, run_ids[r], front_stream, front_state[r])
        if n_events:
            for j in range(4):
                s[j] = talks_state[r, j]
            advance(s, 2 * max_rounds)
            for e in range(n_events):
                events[r, e] = next_double(s)


@jit
def talks_draws(talks_state, run, round_, s):
    """Run `run`'s two talks uniforms of round `round_` (does a paused run resume, and when); `s` (4,)
    is work space."""
    for j in range(4):
        s[j] = talks_state[run, j]
    advance(s, 2 * round_)
    u_resume = next_double(s)
    return u_resume, next_double(s)
