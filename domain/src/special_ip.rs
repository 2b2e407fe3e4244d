//! Which addresses a webhook may reach: the IANA special-purpose address
//! registries as two tables, one per family.
//!
//! Sources: the *IANA IPv4 Special-Purpose Address Registry* and the *IANA
//! IPv6 Special-Purpose Address Registry* (created by RFC 6890, columns as
//! redefined by RFC 8190; both as last updated 2025-10-09). Every entry
//! whose *Globally Reachable* column is `False` or `N/A` is a row below,
//! even where a broader row already covers it. Rows beyond the registries:
//!
//! * multicast, `224.0.0.0/4` (RFC 5771) and `ff00::/8` (RFC 4291);
//! * the deprecated site-local `fec0::/10` (RFC 3879) and IPv4-compatible
//!   `::/96` (RFC 4291, which also covers `::` and `::1`);
//! * ORCHIDv2 `2001:20::/28` (RFC 7343), which the registry calls globally
//!   reachable: it names hosts, it does not locate them.
//!
//! Entries the registries mark globally reachable are not rows: AS112
//! (`192.31.196.0/24`, `192.175.48.0/24`, `2620:4f:8000::/48`) and AMT
//! (`192.52.193.0/24`) stay public, while those inside a refused block are
//! refused with it (the anycast addresses `192.0.0.9` and `192.0.0.10`;
//! inside `2001::/23`, the anycast addresses, AMT, AS112-v6 and DETs: none
//! of them is a webhook receiver). `2002::/16` (6to4) and `2001::/32` (Teredo)
//! tunnel to an IPv4 address this check cannot vouch for, so they are
//! refused whole. Two blocks carry an IPv4 address in their last 32 bits and
//! are as public as that address: IPv4-mapped `::ffff:0:0/96` and the NAT64
//! well-known prefix `64:ff9b::/96` (RFC 6052); the local-use NAT64 prefix
//! `64:ff9b:1::/48` (RFC 8215) translates however its operator chooses and
//! is refused. Every address in no row is public.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address inside a block means for a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// No address in the block may be reached.
    Refuse,
    /// The block carries an IPv4 address in its last 32 bits, and is as
    /// public as that address (IPv6 blocks only).
    EmbeddedV4,
}

/// An address family, as an unsigned number of [`Family::WIDTH`] bits.
trait Family: Copy + fmt::Display {
    /// The address's width in bits.
    const WIDTH: u8;
    /// The address as a number (an IPv4 address in the low 32 bits).
    fn bits(self) -> u128;
}

impl Family for Ipv4Addr {
    const WIDTH: u8 = 32;
    fn bits(self) -> u128 {
        u32::from(self).into()
    }
}

impl Family for Ipv6Addr {
    const WIDTH: u8 = 128;
    fn bits(self) -> u128 {
        u128::from(self)
    }
}

/// One row of a table: a block of addresses (CIDR), its registry name, the
/// RFC that defines it and what it means for a webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block<A> {
    /// The block's first address (no host bits set).
    net: A,
    /// The prefix length, at most the family's width.
    len: u8,
    /// The name the registry (or the RFC) gives the block.
    name: &'static str,
    /// The RFC(s) defining the block.
    rfc: &'static str,
    /// What an address inside it means.
    rule: Rule,
}

impl<A: Family> Block<A> {
    /// The network bits, as a mask over [`Family::bits`].
    fn mask(&self) -> u128 {
        let family = u128::MAX >> (128 - u32::from(A::WIDTH));
        let host = u32::from(A::WIDTH.saturating_sub(self.len));
        u128::MAX.checked_shl(host).unwrap_or(0) & family
    }

    /// True when `a` is in the block.
    fn contains(&self, a: A) -> bool {
        a.bits() & self.mask() == self.net.bits()
    }
}

impl<A: Family> fmt::Display for Block<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {} ({})", self.net, self.len, self.name, self.rfc)
    }
}

/// An IPv4 row: every address in it is refused.
const fn v4(net: [u8; 4], len: u8, name: &'static str, rfc: &'static str) -> Block<Ipv4Addr> {
    let [a, b, c, d] = net;
    Block {
        net: Ipv4Addr::new(a, b, c, d),
        len,
        name,
        rfc,
        rule: Rule::Refuse,
    }
}

/// An IPv6 row; `head` is the address's leading segments (the rest are 0).
const fn v6(
    head: &[u16],
    len: u8,
    name: &'static str,
    rfc: &'static str,
    rule: Rule,
) -> Block<Ipv6Addr> {
    let mut s = [0u16; 8];
    let mut i = 0;
    while i < head.len() {
        s[i] = head[i];
        i += 1;
    }
    let [a, b, c, d, e, f, g, h] = s;
    Block {
        net: Ipv6Addr::new(a, b, c, d, e, f, g, h),
        len,
        name,
        rfc,
        rule,
    }
}

/// The IPv4 blocks no webhook may reach.
#[rustfmt::skip]
const SPECIAL_V4: [Block<Ipv4Addr>; 22] = [
    v4([0, 0, 0, 0],         8,  "\"This network\"",                "RFC 791"),
    v4([0, 0, 0, 0],         32, "\"This host on this network\"",   "RFC 1122"),
    v4([10, 0, 0, 0],        8,  "Private-Use",                     "RFC 1918"),
    v4([100, 64, 0, 0],      10, "Shared Address Space",            "RFC 6598"),
    v4([127, 0, 0, 0],       8,  "Loopback",                        "RFC 1122"),
    v4([169, 254, 0, 0],     16, "Link Local",                      "RFC 3927"),
    v4([172, 16, 0, 0],      12, "Private-Use",                     "RFC 1918"),
    v4([192, 0, 0, 0],       24, "IETF Protocol Assignments",       "RFC 6890"),
    v4([192, 0, 0, 0],       29, "IPv4 Service Continuity Prefix",  "RFC 7335"),
    v4([192, 0, 0, 8],       32, "IPv4 dummy address",              "RFC 7600"),
    v4([192, 0, 0, 170],     32, "NAT64/DNS64 Discovery",           "RFC 8880, RFC 7050"),
    v4([192, 0, 0, 171],     32, "NAT64/DNS64 Discovery",           "RFC 8880, RFC 7050"),
    v4([192, 0, 2, 0],       24, "Documentation (TEST-NET-1)",      "RFC 5737"),
    v4([192, 88, 99, 0],     24, "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    v4([192, 88, 99, 2],     32, "6a44-relay anycast address",      "RFC 6751"),
    v4([192, 168, 0, 0],     16, "Private-Use",                     "RFC 1918"),
    v4([198, 18, 0, 0],      15, "Benchmarking",                    "RFC 2544"),
    v4([198, 51, 100, 0],    24, "Documentation (TEST-NET-2)",      "RFC 5737"),
    v4([203, 0, 113, 0],     24, "Documentation (TEST-NET-3)",      "RFC 5737"),
    v4([224, 0, 0, 0],       4,  "Multicast",                       "RFC 5771"),
    v4([240, 0, 0, 0],       4,  "Reserved",                        "RFC 1112"),
    v4([255, 255, 255, 255], 32, "Limited Broadcast",               "RFC 8190, RFC 919"),
];

/// The IPv6 blocks no webhook may reach, and the two that embed an IPv4
/// address.
#[rustfmt::skip]
const SPECIAL_V6: [Block<Ipv6Addr>; 21] = {
    use Rule::{EmbeddedV4, Refuse};
    [
        v6(&[],                        128, "Unspecified Address",            "RFC 4291",           Refuse),
        v6(&[0, 0, 0, 0, 0, 0, 0, 1],  128, "Loopback Address",               "RFC 4291",           Refuse),
        v6(&[],                        96,  "IPv4-compatible (deprecated)",   "RFC 4291",           Refuse),
        v6(&[0, 0, 0, 0, 0, 0xffff],   96,  "IPv4-mapped Address",            "RFC 4291",           EmbeddedV4),
        v6(&[0x64, 0xff9b],            96,  "IPv4-IPv6 Translat.",            "RFC 6052",           EmbeddedV4),
        v6(&[0x64, 0xff9b, 1],         48,  "IPv4-IPv6 Translat.",            "RFC 8215",           Refuse),
        v6(&[0x100],                   64,  "Discard-Only Address Block",     "RFC 6666",           Refuse),
        v6(&[0x100, 0, 0, 1],          64,  "Dummy IPv6 Prefix",              "RFC 9780",           Refuse),
        v6(&[0x2001],                  23,  "IETF Protocol Assignments",      "RFC 2928",           Refuse),
        v6(&[0x2001],                  32,  "TEREDO",                         "RFC 4380, RFC 8190", Refuse),
        v6(&[0x2001, 0x2],             48,  "Benchmarking",                   "RFC 5180",           Refuse),
        v6(&[0x2001, 0x10],            28,  "Deprecated (previously ORCHID)", "RFC 4843",           Refuse),
        v6(&[0x2001, 0x20],            28,  "ORCHIDv2",                       "RFC 7343",           Refuse),
        v6(&[0x2001, 0xdb8],           32,  "Documentation",                  "RFC 3849",           Refuse),
        v6(&[0x2002],                  16,  "6to4",                           "RFC 3056",           Refuse),
        v6(&[0x3fff],                  20,  "Documentation",                  "RFC 9637",           Refuse),
        v6(&[0x5f00],                  16,  "Segment Routing (SRv6) SIDs",    "RFC 9602",           Refuse),
        v6(&[0xfc00],                  7,   "Unique-Local",                   "RFC 4193, RFC 8190", Refuse),
        v6(&[0xfe80],                  10,  "Link-Local Unicast",             "RFC 4291",           Refuse),
        v6(&[0xfec0],                  10,  "Site-Local (deprecated)",        "RFC 3879",           Refuse),
        v6(&[0xff00],                  8,   "Multicast",                      "RFC 4291",           Refuse),
    ]
};

/// True for addresses a webhook may reach without the operator's leave:
/// those in no row of the special-purpose tables (loopback, private,
/// link-local and cloud metadata, shared, documentation, benchmarking,
/// multicast, reserved, IPv6 unique-local, site-local, 6to4, Teredo,
/// SRv6, …), where an IPv4-mapped or NAT64 address counts as the IPv4
/// address it carries.
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_public_v4(a),
        IpAddr::V6(a) => is_public_v6(a),
    }
}

fn is_public_v4(a: Ipv4Addr) -> bool {
    !SPECIAL_V4.iter().any(|b| b.contains(a))
}

fn is_public_v6(a: Ipv6Addr) -> bool {
    // A block that embeds IPv4 overlaps no other row (tested), so the first
    // row that holds `a` decides.
    match SPECIAL_V6.iter().find(|b| b.contains(a)).map(|b| b.rule) {
        None => true,
        Some(Rule::Refuse) => false,
        Some(Rule::EmbeddedV4) => is_public_v4(embedded_v4(a)),
    }
}

/// The IPv4 address in the last 32 bits of `a`.
fn embedded_v4(a: Ipv6Addr) -> Ipv4Addr {
    let [.., w, x, y, z] = a.octets();
    Ipv4Addr::new(w, x, y, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address rebuilt from its number, to walk a block's edges.
    trait Addr: Family + Into<IpAddr> {
        /// The family's highest address, as a number.
        const MAX: u128;
        fn from_bits(bits: u128) -> Self;
    }

    impl Addr for Ipv4Addr {
        const MAX: u128 = u32::MAX as u128;
        fn from_bits(bits: u128) -> Self {
            Self::from(u32::try_from(bits).expect("an IPv4 number"))
        }
    }

    impl Addr for Ipv6Addr {
        const MAX: u128 = u128::MAX;
        fn from_bits(bits: u128) -> Self {
            Self::from(bits)
        }
    }

    /// A block's first and last address as numbers, by arithmetic on its
    /// size rather than by the mask [`Block::contains`] uses.
    fn span<A: Family>(b: &Block<A>) -> (u128, u128) {
        let host = u32::from(A::WIDTH - b.len);
        let size_less_one = 1u128.checked_shl(host).map_or(u128::MAX, |n| n - 1);
        let first = b.net.bits();
        (
            first,
            first.checked_add(size_less_one).expect("in the family"),
        )
    }

    fn in_some_row<A: Family>(table: &[Block<A>], n: u128) -> bool {
        table.iter().any(|b| {
            let (first, last) = span(b);
            (first..=last).contains(&n)
        })
    }

    fn public(a: &str) -> bool {
        is_public_ip(a.parse().unwrap_or_else(|e| panic!("{a}: {e}")))
    }

    fn rows_are_well_formed<A: Family>(table: &[Block<A>]) {
        for b in table {
            assert!(b.len <= A::WIDTH, "{b}: prefix longer than the family");
            assert_eq!(b.net.bits() & !b.mask(), 0, "{b}: host bits set");
            assert!(!b.name.is_empty() && b.rfc.starts_with("RFC "), "{b}");
            let twins = table
                .iter()
                .filter(|c| (c.net.bits(), c.len) == (b.net.bits(), b.len));
            assert_eq!(twins.count(), 1, "{b}: listed twice");
        }
    }

    /// Two CIDR blocks either nest or are apart; nesting is right only
    /// between refused blocks (a block that embeds IPv4 is decided by its
    /// own rule alone).
    fn rows_overlap_only_when_both_refuse<A: Family>(table: &[Block<A>]) {
        for (i, b) in table.iter().enumerate() {
            for c in &table[i + 1..] {
                let ((b0, b1), (c0, c1)) = (span(b), span(c));
                if b0 <= c1 && c0 <= b1 {
                    let nested = (b0 <= c0 && c1 <= b1) || (c0 <= b0 && b1 <= c1);
                    assert!(nested, "{b} and {c} overlap without nesting");
                    assert_eq!((b.rule, c.rule), (Rule::Refuse, Rule::Refuse), "{b} / {c}");
                }
            }
        }
    }

    #[test]
    fn tables_are_well_formed() {
        rows_are_well_formed(&SPECIAL_V4);
        rows_are_well_formed(&SPECIAL_V6);
        rows_overlap_only_when_both_refuse(&SPECIAL_V4);
        rows_overlap_only_when_both_refuse(&SPECIAL_V6);
        for b in &SPECIAL_V4 {
            assert_eq!(b.rule, Rule::Refuse, "{b}: only IPv6 blocks embed IPv4");
        }
    }

    fn ends_are_not_public<A: Addr>(table: &[Block<A>]) {
        for b in table {
            let (first, last) = span(b);
            for n in [first, last] {
                let a = A::from_bits(n);
                assert!(!is_public_ip(a.into()), "{a}, an end of {b}, passed");
            }
        }
    }

    /// Checks the neighbours of every row that are in no row themselves;
    /// how many it checked.
    fn neighbours_are_public<A: Addr>(table: &[Block<A>]) -> usize {
        let mut checked = 0;
        for b in table {
            let (first, last) = span(b);
            let outside = [
                first.checked_sub(1),
                last.checked_add(1).filter(|n| *n <= A::MAX),
            ];
            for n in outside.into_iter().flatten() {
                if !in_some_row(table, n) {
                    let a = A::from_bits(n);
                    assert!(is_public_ip(a.into()), "{a}, just outside {b}, refused");
                    checked += 1;
                }
            }
        }
        checked
    }

    #[test]
    fn every_row_is_refused_to_its_ends_and_no_further() {
        ends_are_not_public(&SPECIAL_V4);
        ends_are_not_public(&SPECIAL_V6);
        assert!(neighbours_are_public(&SPECIAL_V4) >= 25);
        assert!(neighbours_are_public(&SPECIAL_V6) >= 20);
    }

    #[test]
    fn private_addresses_are_not_public() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(!public(a), "{a}");
        }
        for a in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(a), "{a}");
        }
    }

    /// Edges written out by hand, for the blocks the old checks missed.
    #[test]
    fn the_registries_edges_by_hand() {
        for a in [
            "64:ff9b:1::",
            "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
            "64:ff9b:1::808:808",
            "100::1",
            "100::ffff:ffff:ffff:ffff",
            "100:0:0:1::1",
            "2001::",
            "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:1::1",
            "2001:4:112::1",
            "2001:20::1",
            "2001:db8::1",
            "2002::",
            "2002:808:808::1",
            "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff::1",
            "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
            "5f00::1",
            "fec0::1",
            "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ff02::1",
            "::8.8.8.8",
            "192.0.0.9",
            "192.88.99.1",
            "198.19.255.255",
            "240.0.0.1",
        ] {
            assert!(!public(a), "{a}");
        }
        for a in [
            "2001:200::1",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2003::1",
            "3fff:1000::",
            "2620:4f:8000::1",
            "192.31.196.1",
            "192.52.193.1",
            "192.175.48.1",
            "2a00:1450:4001::1",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "192.88.100.0",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(public(a), "{a}");
        }
    }

    #[test]
    fn an_embedded_ipv4_address_decides() {
        for (a, expected) in [
            ("::ffff:8.8.8.8", true),
            ("::ffff:10.0.0.1", false),
            ("::ffff:0.0.0.0", false),
            ("64:ff9b::8.8.8.8", true),
            ("64:ff9b::192.168.0.1", false),
            ("64:ff9b::255.255.255.255", false),
        ] {
            assert_eq!(public(a), expected, "{a}");
        }
    }
}
