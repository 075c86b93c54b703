//! Session ids to file names (T7): injective, traversal-safe, and the same
//! key everywhere a session is named (the crash set, the file, the
//! temporary files).
//!
//! Upstream replaced `/ \ . :` with `_`, so "a:b" and "a_b" shared a file,
//! and keyed its crash set by the raw id while exports checked the
//! sanitised one. Here every byte outside `[a-z0-9_-]` is percent-encoded
//! (`%` itself included, upper-case letters too, so the mapping stays
//! injective on case-insensitive file systems), which makes the encoded
//! form injective and free of `/`, `\`, `.`, NUL and every other byte a
//! path could be steered with. A fixed suffix keeps "" and ".." away from
//! the names `.` and `..`.
//!
//! File names are limited to 255 bytes. An id whose encoding is longer than
//! [`ENCODED_MAX`] keeps a readable prefix (the longest prefix of its
//! encoding of at most 120 bytes that ends on a whole byte's encoding,
//! never inside a `%XX`) and adds a 128-bit digest after a `~` (a byte the
//! encoding never emits, so a digest name never equals a plain one).
//! Distinct long ids collide only if their digests do: odds of about 2^-64
//! for four billion ids; the digest is not cryptographic, so ids chosen by
//! an adversary should be shortened by the caller.

use std::fmt::Write as _;

/// Longest encoded id kept whole; longer ids get a digest.
pub const ENCODED_MAX: usize = 200;
/// The readable prefix kept before a digest.
const PREFIX_KEPT: usize = 120;
/// The suffix of every canonical trace file.
pub const SUFFIX: &str = ".trace.json";
/// What follows the canonical name in a temporary file's name.
pub const TMP_MARK: &str = ".tmp.";
/// The suffix of a session's crash mark, `<key>.trace.crashed`: it tells
/// every exporter sharing the directory, in this process or another, that
/// the session crashed (T10).
pub const CRASH_MARK: &str = ".trace.crashed";

/// The canonical key of a session: its encoded id. The file is
/// `<key>.trace.json`; the crash set and temporary files use the same key.
///
/// ```
/// use steadfast_core::trace::names::{file_name, key};
/// assert_eq!(key("a:b"), "a%3Ab");
/// assert_ne!(file_name("a:b"), file_name("a_b")); // upstream made these collide
/// assert_eq!(file_name(".."), "%2E%2E.trace.json"); // never a path component
/// // A long id keeps a readable prefix before its digest.
/// let long = file_name(&"x".repeat(300));
/// assert!(long.starts_with(&format!("{}~", "x".repeat(120))) && long.len() <= 255);
/// ```
pub fn key(session_id: &str) -> String {
    let key = key_of(session_id);
    // T7: short enough for a file name with its suffixes, and nothing a
    // path could be steered with.
    debug_assert!(key.len() <= ENCODED_MAX, "key of {} bytes", key.len());
    debug_assert!(!key.bytes().any(|b| matches!(b, b'/' | b'\\' | b'.' | 0)), "unsafe key {key:?}");
    key
}

fn key_of(session_id: &str) -> String {
    let bytes = session_id.as_bytes();
    // The encoding's length without making it: a long id (the common
    // case for a digest name) encodes only the prefix it keeps.
    let unsafe_bytes = bytes.iter().filter(|&&b| !is_safe(b)).count();
    let encoded_len = bytes.len() + 2 * unsafe_bytes;
    if encoded_len <= ENCODED_MAX {
        let key = encode(bytes, encoded_len);
        debug_assert_eq!(key.len(), encoded_len, "an id encodes to its counted length");
        return key;
    }
    // The readable prefix ends on a whole unit, never inside a %XX triple.
    let mut cut = 0;
    let mut kept = 0;
    for &b in bytes {
        let unit = if is_safe(b) { 1 } else { 3 };
        if cut + unit > PREFIX_KEPT {
            break;
        }
        cut += unit;
        kept += 1;
    }
    let (a, b) = digest128(bytes);
    let digest_name_len = cut + 1 + 32;
    let mut key = encode(&bytes[..kept], digest_name_len);
    debug_assert_eq!(key.len(), cut, "the prefix encodes to its counted length");
    write!(key, "~{a:016x}{b:016x}").expect("a String takes what is written to it");
    debug_assert_eq!(key.len(), digest_name_len, "a prefix, a `~` and 32 hex digits");
    key
}

/// The canonical file name of a session.
pub fn file_name(session_id: &str) -> String {
    format!("{}{SUFFIX}", key(session_id))
}

/// The name of a session's crash mark.
pub fn crash_mark_name(session_id: &str) -> String {
    format!("{}{CRASH_MARK}", key(session_id))
}

/// `bytes` percent-encoded, into a string of `capacity` bytes.
fn encode(bytes: &[u8], capacity: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    // Bytes, not chars: every file name of a session is made through here,
    // and the encoding is ASCII throughout.
    let mut out = Vec::with_capacity(capacity);
    for &b in bytes {
        if is_safe(b) {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    String::from_utf8(out).expect("the encoding is ASCII")
}

/// The bytes an id keeps as they are: `[a-z0-9_-]`.
const SAFE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-';
        b += 1;
    }
    t
};

fn is_safe(b: u8) -> bool {
    SAFE[usize::from(b)]
}

/// Two independent 64-bit FNV-1a streams, each finalised by `mix64`.
fn digest128(bytes: &[u8]) -> (u64, u64) {
    let [a, b] = crate::fnv1a64_streams(bytes, [0xCBF2_9CE4_8422_2325, 0x6C62_272E_07BB_0142]);
    let len = bytes.len() as u64;
    (crate::mix64(a ^ len), crate::mix64(b ^ len))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition every file name keeps (names on disk outlive a
    /// version): the whole id encoded, cut at a whole unit, two FNV-1a
    /// streams formatted after a `~`.
    fn reference_key(id: &str) -> String {
        let is_safe = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-';
        let mut encoded = String::new();
        for &b in id.as_bytes() {
            if is_safe(b) {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("%{b:02X}"));
            }
        }
        if encoded.len() <= ENCODED_MAX {
            return encoded;
        }
        let mut cut = 0;
        for &b in id.as_bytes() {
            let unit = if is_safe(b) { 1 } else { 3 };
            if cut + unit > PREFIX_KEPT {
                break;
            }
            cut += unit;
        }
        // FNV-1a written out, not `crate::fnv1a64`: the oracle shares no
        // code with what it judges.
        let fnv = |offset: u64| {
            let h = id.bytes().fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3));
            crate::mix64(h ^ id.len() as u64)
        };
        format!("{}~{:016x}{:016x}", &encoded[..cut], fnv(0xCBF2_9CE4_8422_2325), fnv(0x6C62_272E_07BB_0142))
    }

    #[test]
    fn keys_keep_their_definition() {
        const ALPHABET: &[char] =
            &['a', 'z', '0', '9', '_', '-', 'A', ':', '/', '.', '%', '~', '\0', ' ', 'é', '\u{1F600}'];
        let mut x = 0x243F_6A88_85A3_08D3u64;
        let mut ids: Vec<String> =
            vec![String::new(), "..".into(), "a".repeat(ENCODED_MAX), "a".repeat(ENCODED_MAX + 1)];
        // Lengths around every boundary: the whole encoding kept, the
        // prefix cut at 120 bytes with a safe or an escaped byte there.
        for len in (0..80).chain(190..210).chain([250, 300, 1000]) {
            for _ in 0..6 {
                let id: String = (0..len)
                    .map(|_| {
                        x = crate::mix64(x.wrapping_add(0x9E37_79B9_7F4A_7C15));
                        ALPHABET[(x % ALPHABET.len() as u64) as usize]
                    })
                    .collect();
                ids.push(id);
            }
        }
        for pad in 0..4 {
            ids.push(format!("{}{}", "b".repeat(118 + pad), ":".repeat(100)));
        }
        for id in &ids {
            assert_eq!(key(id), reference_key(id), "{id:?}");
        }
    }

    fn check_distinct_and_safe(ids: &[&str]) {
        let names: Vec<String> = ids.iter().map(|id| file_name(id)).collect();
        for (i, n) in names.iter().enumerate() {
            assert!(n.len() <= 255, "{:?} -> {} bytes", ids[i], n.len());
            assert!(!n.contains('/') && !n.contains('\\') && !n.contains('\0'), "{n}");
            assert!(n != "." && n != "..", "{n}");
            for (j, m) in names.iter().enumerate().skip(i + 1) {
                assert_ne!(n, m, "{:?} and {:?} collide", ids[i], ids[j]);
            }
        }
    }

    #[test]
    fn the_ids_upstream_confused_map_to_distinct_safe_names() {
        let long_a = "a".repeat(300);
        let long_b = format!("{}b", "a".repeat(299));
        let long_c = "/".repeat(300);
        check_distinct_and_safe(&[
            "a:b",
            "a_b",
            "a/b",
            "a\\b",
            "a.b",
            "a%3Ab",
            "A",
            "a",
            "..",
            ".",
            "",
            "\0",
            "../../etc/passwd",
            &long_a,
            &long_b,
            &long_c,
            "\u{FFFD}",
            "%FF%FE",
            "é",
            "e\u{301}",
            "~",
            "x~0",
        ]);
    }

    #[test]
    fn a_plain_id_keeps_a_readable_name() {
        assert_eq!(crash_mark_name("a:b"), "a%3Ab.trace.crashed");
        assert_eq!(file_name("session-42_x"), "session-42_x.trace.json");
        assert_eq!(file_name("a:b"), "a%3Ab.trace.json");
        assert_eq!(file_name(".."), "%2E%2E.trace.json");
        assert_eq!(file_name(""), ".trace.json");
    }

    #[test]
    fn a_digest_name_never_ends_inside_an_escape() {
        for fill in ["a", ":", "ab:", "abc:"] {
            let id = fill.repeat(400);
            let k = key(&id);
            let prefix = k.split('~').next().unwrap_or_default();
            let tail = &prefix[prefix.len().saturating_sub(2)..];
            assert!(!tail.contains('%'), "{id:?} -> {k}");
        }
    }
}
