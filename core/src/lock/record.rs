//! A lock file's bytes and the [`LockOwner`] they name, without a serde
//! (de)serializer per lock operation: every acquire writes a record and
//! every look at a busy lock reads one, and serde_json's derived code cost
//! about 6,600 instructions a read, an eighth of a simulated lock run.
//!
//! The bytes are serde_json's: [`LockOwner::to_record`] writes exactly what
//! `serde_json::to_vec` writes, and [`LockOwner::from_record`] accepts
//! exactly what `serde_json::from_slice` accepts, with the same result. It
//! reads the compact form `to_record` writes itself (padded with trailing
//! whitespace or not) and hands every other input (whitespace inside,
//! older records without `start_time` or `manager`,
//! fields in another order, anything malformed) to serde_json.

use super::LockOwner;

impl LockOwner {
    /// The lock file's body naming this owner: serde_json's compact form.
    pub fn to_record(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(b"{\"pid\":");
        push_decimal(&mut out, u64::from(self.pid));
        out.extend_from_slice(b",\"start_time\":");
        match self.start_time {
            Some(t) => push_decimal(&mut out, t),
            None => out.extend_from_slice(b"null"),
        }
        for (key, value) in [
            (&b",\"nonce\":"[..], self.nonce),
            (b",\"acquired_at_ms\":", self.acquired_at_ms),
            (b",\"max_hold_ms\":", self.max_hold_ms),
            (b",\"fence\":", self.fence),
            (b",\"manager\":", self.manager),
        ] {
            out.extend_from_slice(key);
            push_decimal(&mut out, value);
        }
        out.push(b'}');
        out
    }

    /// The owner a lock file's bytes name, or `None` if they are not a
    /// whole record: `serde_json::from_slice(bytes).ok()`.
    pub fn from_record(bytes: &[u8]) -> Option<LockOwner> {
        compact(bytes).or_else(|| serde_json::from_slice(bytes).ok())
    }
}

/// `bytes` read as the exact compact form [`LockOwner::to_record`] writes
/// (whitespace after it allowed), or `None` for anything else (which
/// serde_json then judges).
fn compact(bytes: &[u8]) -> Option<LockOwner> {
    let mut r = Reader { rest: bytes };
    r.literal(b"{\"pid\":")?;
    let pid = u32::try_from(r.decimal()?).ok()?;
    r.literal(b",\"start_time\":")?;
    let start_time = if r.literal(b"null").is_some() { None } else { Some(r.decimal()?) };
    r.literal(b",\"nonce\":")?;
    let nonce = r.decimal()?;
    r.literal(b",\"acquired_at_ms\":")?;
    let acquired_at_ms = r.decimal()?;
    r.literal(b",\"max_hold_ms\":")?;
    let max_hold_ms = r.decimal()?;
    r.literal(b",\"fence\":")?;
    let fence = r.decimal()?;
    r.literal(b",\"manager\":")?;
    let manager = r.decimal()?;
    r.literal(b"}")?;
    // Whitespace may follow, as serde_json allows (a record padded to the
    // largest lock file a manager reads is still a record).
    // In blocks, without an early exit inside one, so that the scan of a
    // padded record is a vector loop.
    let ws = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let trailing_ws = r.rest.chunks(64).all(|block| block.iter().fold(true, |all, &b| all & ws(b)));
    trailing_ws.then_some(LockOwner { pid, start_time, nonce, acquired_at_ms, max_hold_ms, fence, manager })
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    /// Consume `lit` if the input starts with it.
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(lit)?;
        Some(())
    }

    /// Consume a JSON unsigned integer that fits a `u64`: digits, no
    /// leading zero, no fraction or exponent (the caller's next literal
    /// refuses a `.` or `e`).
    fn decimal(&mut self) -> Option<u64> {
        let n = self.rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (digits, rest) = self.rest.split_at(n);
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        // Nineteen digits always fit a u64; only a twentieth can overflow.
        let (head, last) = if digits.len() > 19 { digits.split_at(19) } else { (digits, &[][..]) };
        let mut v = head.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        for &d in last {
            v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        }
        self.rest = rest;
        Some(v)
    }
}

/// Append `v` in decimal, as serde_json writes an integer (with the same
/// `itoa`).
fn push_decimal(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Owners over the edges of every field: zero, one digit, powers of
    /// ten and their neighbours, the type's maximum.
    fn owners() -> Vec<LockOwner> {
        let edges: Vec<u64> = [0, 1, 9, 10, 99, 100, 4_294_967_295, 4_294_967_296, 1_765_000_000_000]
            .into_iter()
            .chain([u64::MAX - 1, u64::MAX, 10_000_000_000_000_000_000, 9_999_999_999_999_999_999])
            .collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |i: usize| {
            x = crate::mix64(x.wrapping_add(i as u64));
            if x % 3 == 0 { edges[(x >> 8) as usize % edges.len()] } else { x >> (x % 64) }
        };
        (0..400)
            .map(|i| LockOwner {
                pid: next(i) as u32,
                start_time: (i % 4 != 0).then(|| next(i)),
                nonce: next(i),
                acquired_at_ms: next(i),
                max_hold_ms: next(i),
                fence: next(i),
                manager: next(i),
            })
            .chain([LockOwner {
                pid: u32::MAX,
                start_time: Some(u64::MAX),
                nonce: u64::MAX,
                acquired_at_ms: u64::MAX,
                max_hold_ms: u64::MAX,
                fence: u64::MAX,
                manager: u64::MAX,
            }])
            .collect()
    }

    #[test]
    fn a_record_is_serde_jsons_bytes_and_reads_back_without_serde() {
        for o in owners() {
            let record = o.to_record();
            assert_eq!(record, serde_json::to_vec(&o).expect("serialises"), "{o:?}");
            // The compact reader itself takes every record it writes, and
            // the same padded with whitespace.
            assert_eq!(compact(&record).as_ref(), Some(&o), "{}", String::from_utf8_lossy(&record));
            let mut padded = record.clone();
            padded.extend_from_slice(b" \n\t\r ");
            assert_eq!(compact(&padded).as_ref(), Some(&o));
            assert_eq!(LockOwner::from_record(&record), Some(o));
        }
    }

    /// What serde_json makes of `bytes`, as `from_record` must.
    fn agrees(bytes: &[u8]) {
        let want = serde_json::from_slice::<LockOwner>(bytes).ok();
        assert_eq!(LockOwner::from_record(bytes), want, "{:?}", String::from_utf8_lossy(bytes));
        if let Some(got) = compact(bytes) {
            assert_eq!(Some(got), want, "the compact reader took {:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn every_other_input_reads_as_serde_json_reads_it() {
        let written = [
            r#"{"pid":1,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5}"#,
            r#"{ "pid": 1, "start_time": null, "nonce": 2, "acquired_at_ms": 3, "max_hold_ms": 4, "fence": 5, "manager": 6 }"#,
            r#"{"nonce":2,"pid":1,"start_time":7,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6,"extra":[1]}"#,
            r#"{"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}  "#,
            r#"{"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}x"#,
            "{\"pid\":1,\"start_time\":7,\"nonce\":2,\"acquired_at_ms\":3,\"max_hold_ms\":4,\"fence\":5,\"manager\":6}\n\t\r ",
            "{\"pid\":1,\"start_time\":7,\"nonce\":2,\"acquired_at_ms\":3,\"max_hold_ms\":4,\"fence\":5,\"manager\":6} \x0b",
            "{\"pid\":1,\"start_time\":7,\"nonce\":2,\"acquired_at_ms\":3,\"max_hold_ms\":4,\"fence\":5,\"manager\":6} \x0c",
            "{\"pid\":1,\"start_time\":7,\"nonce\":2,\"acquired_at_ms\":3,\"max_hold_ms\":4,\"fence\":5,\"manager\":6}\u{a0}",
            r#"{"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}{}"#,
            r#"{"pid":01,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":7,"nonce":2.0,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":7,"nonce":2e3,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":-1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":4294967296,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":18446744073709551616,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":7,"nonce":99999999999999999999,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":}"#,
            r#"{"pid":1,"pid":1,"start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":"1","start_time":7,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            r#"{"pid":1,"start_time":nul,"nonce":2,"acquired_at_ms":3,"max_hold_ms":4,"fence":5,"manager":6}"#,
            "",
            "{}",
            "null",
            "oversized 104857600 bytes",
        ];
        for w in written {
            agrees(w.as_bytes());
        }
        // Every record cut short, every byte of one changed, a byte added
        // anywhere: torn writes, bit flips, a stray newline.
        for o in owners().into_iter().take(40) {
            let record = o.to_record();
            for cut in 0..record.len() {
                agrees(&record[..cut]);
            }
            for at in 0..record.len() {
                for b in [b'0', b'1', b'9', b' ', b'\n', b'"', b',', b'}', b'-', b'.', b'e', b'x', 0, 0xff] {
                    let mut changed = record.clone();
                    changed[at] = b;
                    agrees(&changed);
                    let mut longer = record.clone();
                    longer.insert(at, b);
                    agrees(&longer);
                }
            }
        }
    }
}
