//! JSON string encoding of bytes already known (or still to be checked) to
//! be UTF-8, 16 bytes at a time.
//!
//! [`scan`] classifies a 16-byte block at once (SIMD where the target has
//! it, SWAR otherwise). The fast path (`parser/fast.rs`) stores the whole
//! block to its output and advances past the clean prefix only: a short
//! field costs one copy of constant size, with no per-byte pushes and no
//! variable-length `memcpy` calls (in Wasm, calls into wasi-libc).

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Bytes classified at once.
pub const BLOCK: usize = 16;

/// Whether a byte needs escaping inside a JSON string.
pub const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// The JSON escape sequence of `b`, a byte for which [`needs_escape`]
/// holds: its bytes, padded to a constant size, and its length.
#[inline]
pub fn escape_seq(b: u8) -> ([u8; 8], usize) {
    debug_assert!(needs_escape(b));
    match b {
        b'"' | b'\\' => ([b'\\', b, 0, 0, 0, 0, 0, 0], 2),
        b'\n' => (*b"\\n\0\0\0\0\0\0", 2),
        b'\r' => (*b"\\r\0\0\0\0\0\0", 2),
        b'\t' => (*b"\\t\0\0\0\0\0\0", 2),
        _ => {
            let hex = |d: u8| HEX[usize::from(d)];
            ([b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b & 15), 0, 0], 6)
        }
    }
}

/// Scans a block: the number of its leading bytes that neither need a JSON
/// escape nor equal `stop` (16 when all), and a mask of those that are not
/// ASCII (their UTF-8 is still to be checked).
#[inline(always)]
pub fn scan(block: &[u8; BLOCK], stop: u8) -> (usize, u32) {
    let (special, non_ascii) = classify(block, stop);
    // Only the lowest bit of `special` is exact (see `classify_swar`).
    let n = (special | 1 << BLOCK).trailing_zeros();
    (n as usize, non_ascii & ((1 << n) - 1))
}

/// Appends `s` JSON-escaped, without the surrounding quotes. (The general
/// path's encoder: a block at a time, but through the `Vec`.)
pub fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        // Past the end, zeros: control bytes, so the scan stops there.
        let mut block = [0; BLOCK];
        let len = rest.len().min(BLOCK);
        block[..len].copy_from_slice(&rest[..len]);
        let (n, _) = scan(&block, b'"');
        out.extend_from_slice(&block[..n]);
        pos += n;
        if n < len {
            let (seq, len) = escape_seq(s[pos]);
            out.extend_from_slice(&seq[..len]);
            pos += 1;
        }
    }
}

/// Classifies a block: bit `i` of the first mask is set when byte `i` needs
/// a JSON escape or equals `stop`, of the second when byte `i` is not ASCII.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub(crate) fn classify(block: &[u8; BLOCK], stop: u8) -> (u32, u32) {
    use core::arch::wasm32::*;
    // SAFETY: reads the 16 bytes of `block`; `v128_load` needs no alignment.
    let v = unsafe { v128_load(block.as_ptr().cast()) };
    let special = v128_or(
        v128_or(u8x16_le(v, u8x16_splat(0x1f)), u8x16_eq(v, u8x16_splat(b'"'))),
        v128_or(u8x16_eq(v, u8x16_splat(b'\\')), u8x16_eq(v, u8x16_splat(stop))),
    );
    (u8x16_bitmask(special).into(), u8x16_bitmask(v).into())
}

/// Classifies a block: bit `i` of the first mask is set when byte `i` needs
/// a JSON escape or equals `stop`, of the second when byte `i` is not ASCII.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn classify(block: &[u8; BLOCK], stop: u8) -> (u32, u32) {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { classify_sse2(block, stop) }
}

/// [`classify`] with SSE2 (what `simd128` offers in Wasm).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn classify_sse2(block: &[u8; BLOCK], stop: u8) -> (u32, u32) {
    use core::arch::x86_64::*;
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    // SAFETY: reads the 16 bytes of `block`; the load needs no alignment.
    let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
    // b < 0x20 (unsigned) exactly when min(b, 0x1f) == b.
    let control = _mm_cmpeq_epi8(_mm_min_epu8(v, splat(0x1f)), v);
    let special = _mm_or_si128(
        _mm_or_si128(control, _mm_cmpeq_epi8(v, splat(b'"'))),
        _mm_or_si128(_mm_cmpeq_epi8(v, splat(b'\\')), _mm_cmpeq_epi8(v, splat(stop))),
    );
    (_mm_movemask_epi8(special) as u32, _mm_movemask_epi8(v) as u32)
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
pub(crate) use classify_swar as classify;

/// Portable [`classify`], two 64-bit words at a time (SWAR). Bits of the
/// first mask above its lowest set bit may be spurious (a borrow carried
/// from a lower matching byte); the lowest is exact, and all callers use.
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ),
    allow(dead_code)
)]
#[inline(always)]
pub fn classify_swar(block: &[u8; BLOCK], stop: u8) -> (u32, u32) {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    // 0x80 in each byte that is zero (exact up to the lowest one).
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let special = |x: u64| {
        (x.wrapping_sub(ONES * 0x20) & !x & HIGH)
            | zero(x ^ (ONES * u64::from(b'"')))
            | zero(x ^ (ONES * u64::from(b'\\')))
            | zero(x ^ (ONES * u64::from(stop)))
    };
    // Gathers the 0x80 bits of the eight bytes into the low 8 bits.
    let bits = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    let [lo, hi] = [0, 8].map(|at| {
        u64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"))
    });
    let first = if special(lo) != 0 {
        bits(special(lo))
    } else {
        bits(special(hi)) << 8
    };
    (first, bits(lo & HIGH) | bits(hi & HIGH) << 8)
}
