//! JSON string encoding, 16 bytes at a time.
//!
//! [`classify`] sorts a 16-byte block at once (SIMD where the target has it:
//! Wasm `simd128`, x86-64 SSE2; SWAR otherwise) into bit masks: bytes to
//! escape, delimiters, quotes, line ends, non-ASCII bytes. The fast path
//! (`parser/fast.rs`) then handles only the bytes so flagged and copies the
//! runs between them a whole block at a time.

/// Bytes classified at once.
pub const BLOCK: usize = 16;

/// Whether a byte needs escaping inside a JSON string.
pub const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// JSON escape sequences of the ASCII bytes that need one, padded to 8
/// bytes, the last of which holds the sequence's length.
const ESCAPES: [[u8; 8]; 0x80] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0; 8]; 0x80];
    let mut b = 0;
    while b < 0x80 {
        let u = b as u8;
        table[b] = match u {
            b'"' | b'\\' => [b'\\', u, 0, 0, 0, 0, 0, 2],
            b'\n' => [b'\\', b'n', 0, 0, 0, 0, 0, 2],
            b'\r' => [b'\\', b'r', 0, 0, 0, 0, 0, 2],
            b'\t' => [b'\\', b't', 0, 0, 0, 0, 0, 2],
            0..0x20 => [b'\\', b'u', b'0', b'0', HEX[b >> 4], HEX[b & 15], 0, 6],
            _ => [0; 8],
        };
        b += 1;
    }
    table
};

/// The JSON escape sequence of `b`, a byte for which [`needs_escape`]
/// holds: its bytes padded to 8, and its length.
#[inline]
pub fn escape_seq(b: u8) -> (&'static [u8; 8], usize) {
    debug_assert!(needs_escape(b));
    let seq = &ESCAPES[usize::from(b & 0x7f)];
    (seq, usize::from(seq[7]))
}

/// Appends `s` JSON-escaped, without the surrounding quotes. (The general
/// path's encoder: a block at a time, but through the `Vec`.)
pub fn write_escaped(out: &mut Vec<u8>, s: &[u8]) {
    let mut pos = 0;
    while pos < s.len() {
        let rest = &s[pos..];
        let len = rest.len().min(BLOCK);
        let mut block = [0; BLOCK];
        block[..len].copy_from_slice(&rest[..len]);
        // Past the end, zeros: control bytes, so the scan stops there.
        let clean = classify(&block, b'"').escape.trailing_zeros() as usize;
        out.extend_from_slice(&block[..clean.min(len)]);
        pos += clean.min(len);
        if clean < len {
            let (seq, len) = escape_seq(s[pos]);
            out.extend_from_slice(&seq[..len]);
            pos += 1;
        }
    }
}

/// A block's bytes, one bit each (bit `i` for byte `i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Masks {
    /// Bytes that need a JSON escape ([`needs_escape`]).
    pub escape: u32,
    /// Bytes equal to the delimiter.
    pub delim: u32,
    /// Quotes.
    pub quote: u32,
    /// Line ends: `\n` and `\r`.
    pub line: u32,
    /// Bytes that are not ASCII.
    pub non_ascii: u32,
}

/// Classifies the bytes of a block.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub fn classify(block: &[u8; BLOCK], delim: u8) -> Masks {
    use core::arch::wasm32::*;
    // SAFETY: reads the 16 bytes of `block`; `v128_load` needs no alignment.
    let v = unsafe { v128_load(block.as_ptr().cast()) };
    // b < 0x20 exactly when b - 0x1f (saturating) is 0.
    let control = u8x16_eq(u8x16_sub_sat(v, u8x16_splat(0x1f)), u8x16_splat(0));
    let quote = u8x16_eq(v, u8x16_splat(b'"'));
    let line = v128_or(
        u8x16_eq(v, u8x16_splat(b'\n')),
        u8x16_eq(v, u8x16_splat(b'\r')),
    );
    let escape = v128_or(v128_or(control, quote), u8x16_eq(v, u8x16_splat(b'\\')));
    Masks {
        escape: u8x16_bitmask(escape).into(),
        delim: u8x16_bitmask(u8x16_eq(v, u8x16_splat(delim))).into(),
        quote: u8x16_bitmask(quote).into(),
        line: u8x16_bitmask(line).into(),
        non_ascii: u8x16_bitmask(v).into(),
    }
}

/// Classifies the bytes of a block.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn classify(block: &[u8; BLOCK], delim: u8) -> Masks {
    // SAFETY: SSE2 is part of the x86_64 baseline.
    unsafe { classify_sse2(block, delim) }
}

/// [`classify`] with SSE2 (what `simd128` offers in Wasm).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn classify_sse2(block: &[u8; BLOCK], delim: u8) -> Masks {
    use core::arch::x86_64::*;
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    // SAFETY: reads the 16 bytes of `block`; the load needs no alignment.
    let v = unsafe { _mm_loadu_si128(block.as_ptr().cast()) };
    // b < 0x20 exactly when b - 0x1f (saturating) is 0.
    let control = _mm_cmpeq_epi8(_mm_subs_epu8(v, splat(0x1f)), _mm_setzero_si128());
    let quote = _mm_cmpeq_epi8(v, splat(b'"'));
    let line = _mm_or_si128(
        _mm_cmpeq_epi8(v, splat(b'\n')),
        _mm_cmpeq_epi8(v, splat(b'\r')),
    );
    let escape = _mm_or_si128(
        _mm_or_si128(control, quote),
        _mm_cmpeq_epi8(v, splat(b'\\')),
    );
    Masks {
        escape: _mm_movemask_epi8(escape) as u32,
        delim: _mm_movemask_epi8(_mm_cmpeq_epi8(v, splat(delim))) as u32,
        quote: _mm_movemask_epi8(quote) as u32,
        line: _mm_movemask_epi8(line) as u32,
        non_ascii: _mm_movemask_epi8(v) as u32,
    }
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    target_arch = "x86_64"
)))]
pub use classify_swar as classify;

/// Portable [`classify`], 8 bytes at a time in a `u64` (SWAR).
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    ),
    allow(dead_code)
)]
#[inline(always)]
pub fn classify_swar(block: &[u8; BLOCK], delim: u8) -> Masks {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const LOW7: u64 = ONES * 0x7f;
    // 0x80 in each zero byte of `x` (exact: no carries between bytes).
    let zero = |x: u64| !(((x & LOW7) + LOW7) | x | LOW7);
    // The 0x80 bits of the eight bytes, gathered into the low 8 bits.
    let bits = |m: u64| ((m >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32;
    let word = |at: usize| u64::from_le_bytes(block[at..at + 8].try_into().expect("8 bytes"));
    let eq = |x: u64, b: u8| zero(x ^ (ONES * u64::from(b)));
    let masks = |x: u64| {
        let quote = eq(x, b'"');
        Masks {
            escape: bits(zero(x & (ONES * 0xe0)) | quote | eq(x, b'\\')),
            delim: bits(eq(x, delim)),
            quote: bits(quote),
            line: bits(eq(x, b'\n') | eq(x, b'\r')),
            non_ascii: bits(x & !LOW7),
        }
    };
    let (lo, hi) = (masks(word(0)), masks(word(8)));
    Masks {
        escape: lo.escape | hi.escape << 8,
        delim: lo.delim | hi.delim << 8,
        quote: lo.quote | hi.quote << 8,
        line: lo.line | hi.line << 8,
        non_ascii: lo.non_ascii | hi.non_ascii << 8,
    }
}
