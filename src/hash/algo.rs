//! What a digest is: the algorithm and BLAKE3's modes (keyed, derive-key, extended output
//! at an offset), as b3sum, sha256sum and sha512sum compute them, and the digest value.
//!
//! The default (BLAKE3, 32 bytes) keeps `blake3::Hash` inline, so the common path allocates
//! nothing per file; other lengths and algorithms carry their bytes.

use std::fmt;

use sha2::Digest as _;

/// The hash function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    Blake3,
    Sha256,
    Sha512,
}

impl Algo {
    /// The name in `--tag` lines (`BLAKE3 (name) = …`, `SHA256 (name) = …`).
    pub fn tag(self) -> &'static str {
        match self {
            Algo::Blake3 => "BLAKE3",
            Algo::Sha256 => "SHA256",
            Algo::Sha512 => "SHA512",
        }
    }

    /// Bytes of a digest by default.
    pub fn default_len(self) -> usize {
        match self {
            Algo::Blake3 | Algo::Sha256 => 32,
            Algo::Sha512 => 64,
        }
    }
}

/// How every file of a run is digested.
#[derive(Clone, PartialEq, Eq)]
pub struct Mode {
    pub algo: Algo,
    /// BLAKE3 keyed hashing (`--keyed`).
    pub key: Option<[u8; 32]>,
    /// BLAKE3 key derivation (`--derive-key CONTEXT`).
    pub context: Option<String>,
    /// Output bytes (`-l`): BLAKE3's extended output; fixed for SHA-2.
    pub len: usize,
    /// Where the output starts in BLAKE3's extended output (`--seek`).
    pub seek: u64,
}

impl fmt::Debug for Mode {
    // Never the key itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mode")
            .field("algo", &self.algo)
            .field("keyed", &self.key.is_some())
            .field("context", &self.context)
            .field("len", &self.len)
            .field("seek", &self.seek)
            .finish()
    }
}

impl Default for Mode {
    fn default() -> Self {
        Mode::of(Algo::Blake3)
    }
}

impl Mode {
    /// `algo` in its default form.
    pub fn of(algo: Algo) -> Mode {
        Mode {
            algo,
            key: None,
            context: None,
            len: algo.default_len(),
            seek: 0,
        }
    }

    /// BLAKE3, 32 bytes, unkeyed, from offset 0: what `b3sum --check` and the tree digest
    /// (`b3t1`) know.
    pub fn is_default(&self) -> bool {
        *self == Mode::default()
    }

    /// A fresh digester for one input.
    pub fn digester(&self) -> Digester {
        match self.algo {
            Algo::Blake3 => Digester::Blake3(match (&self.key, &self.context) {
                (Some(key), _) => blake3::Hasher::new_keyed(key),
                (None, Some(ctx)) => blake3::Hasher::new_derive_key(ctx),
                (None, None) => blake3::Hasher::new(),
            }),
            Algo::Sha256 => Digester::Sha256(sha2::Sha256::new()),
            Algo::Sha512 => Digester::Sha512(sha2::Sha512::new()),
        }
    }

    /// What identifies this mode in an `--update` state: everything that shapes a digest,
    /// the key only as a fingerprint (a derived key of it), never the key.
    pub fn fingerprint(&self) -> String {
        let key = self.key.map(|k| {
            let f = blake3::derive_key("b3tree 2026 state key fingerprint", &k);
            blake3::Hash::from_bytes(f).to_hex()[..16].to_string()
        });
        format!(
            "{}:len={}:seek={}:key={}:context={}",
            self.algo.tag(),
            self.len,
            self.seek,
            key.as_deref().unwrap_or("-"),
            self.context
                .as_deref()
                .map_or("-".to_string(), |c| format!("{c:?}"))
        )
    }
}

/// A digest in progress. BLAKE3's hasher is the large variant and the common one: boxing it
/// would cost an allocation per file, so the enum is as large as it is.
#[allow(clippy::large_enum_variant)]
pub enum Digester {
    Blake3(blake3::Hasher),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Digester {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Digester::Blake3(h) => {
                h.update(bytes);
            }
            Digester::Sha256(h) => h.update(bytes),
            Digester::Sha512(h) => h.update(bytes),
        }
    }

    /// [`Self::update`] over rayon's pool when `spread` (BLAKE3 only: SHA-2 is sequential).
    pub fn update_spread(&mut self, bytes: &[u8], spread: bool) {
        match self {
            Digester::Blake3(h) if spread => {
                h.update_rayon(bytes);
            }
            _ => self.update(bytes),
        }
    }

    /// The digest, `mode.len` bytes from `mode.seek` for BLAKE3.
    pub fn finish(self, mode: &Mode) -> Digest {
        match self {
            Digester::Blake3(h) if mode.len == 32 && mode.seek == 0 => Digest::Blake3(h.finalize()),
            Digester::Blake3(h) => {
                let mut out = vec![0u8; mode.len];
                let mut reader = h.finalize_xof();
                reader.set_position(mode.seek);
                reader.fill(&mut out);
                Digest::Bytes(out.into_boxed_slice())
            }
            Digester::Sha256(h) => Digest::Bytes(h.finalize().to_vec().into_boxed_slice()),
            Digester::Sha512(h) => Digest::Bytes(h.finalize().to_vec().into_boxed_slice()),
        }
    }
}

/// A digest value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Digest {
    /// BLAKE3's 32-byte default output.
    Blake3(blake3::Hash),
    /// Any other length or algorithm.
    Bytes(Box<[u8]>),
}

impl Digest {
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Digest::Blake3(h) => h.as_bytes(),
            Digest::Bytes(b) => b,
        }
    }

    /// A fixed-size key for matching digests of one run (all of one length): the first 32
    /// bytes, zero-padded (`check --audit`'s MOVED matching keeps these, not the digests).
    pub fn key32(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        let b = self.as_bytes();
        let n = b.len().min(32);
        k[..n].copy_from_slice(&b[..n]);
        k
    }

    /// Appends the lowercase hex to `out` (no allocation: this runs once per manifest line
    /// and once per `--update` record).
    pub fn push_hex(&self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.reserve(2 * self.as_bytes().len());
        for &x in self.as_bytes() {
            out.push(HEX[usize::from(x >> 4)]);
            out.push(HEX[usize::from(x & 15)]);
        }
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        let mut out = Vec::with_capacity(2 * self.as_bytes().len());
        self.push_hex(&mut out);
        String::from_utf8(out).expect("hex digits")
    }

    /// From lowercase or uppercase hex of an even length. A table lookup per digit: it runs
    /// once per manifest line `check` reads and once per record `--update` reuses.
    pub fn from_hex(text: &[u8]) -> Option<Digest> {
        if text.is_empty() || text.len() % 2 != 0 {
            return None;
        }
        let byte = |pair: &[u8]| Some(hex_digit(pair[0])? << 4 | hex_digit(pair[1])?);
        if text.len() == 64 {
            // Without a branch per digit (a manifest line's digest is read here): every
            // nibble's value is or-ed into `bad`, whose bit 4 a non-digit sets.
            let mut out = [0u8; 32];
            let mut bad = 0u8;
            for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
                let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
                bad |= hi | lo;
                *o = hi << 4 | (lo & 15);
            }
            return (bad < 16).then(|| Digest::Blake3(blake3::Hash::from_bytes(out)));
        }
        let bytes: Option<Vec<u8>> = text.chunks_exact(2).map(byte).collect();
        bytes.map(|b| Digest::Bytes(b.into_boxed_slice()))
    }
}

/// The value of a hex digit (either case), by table: hex is read once per manifest line
/// `check` reads and once per record `--update` reuses.
pub fn hex_digit(b: u8) -> Option<u8> {
    let v = NIBBLE[usize::from(b)];
    (v < 16).then_some(v)
}

/// The value of each hex digit (either case); 0x10 marks a byte that is not one.
const NIBBLE: [u8; 256] = {
    let mut t = [0x10u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl From<blake3::Hash> for Digest {
    fn from(h: blake3::Hash) -> Digest {
        Digest::Blake3(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        Digest::Bytes(bytes.into()).to_hex()
    }

    fn digest(mode: &Mode, input: &[u8]) -> String {
        let mut d = mode.digester();
        d.update(input);
        d.finish(mode).to_hex()
    }

    #[test]
    fn modes_match_the_reference_functions() {
        let input = b"abc";
        assert_eq!(
            digest(&Mode::default(), input),
            blake3::hash(input).to_hex().as_str()
        );
        let key = [7u8; 32];
        let keyed = Mode {
            key: Some(key),
            ..Mode::default()
        };
        assert_eq!(
            digest(&keyed, input),
            blake3::keyed_hash(&key, input).to_hex().as_str()
        );
        let derived = Mode {
            context: Some("ctx".into()),
            ..Mode::default()
        };
        assert_eq!(
            digest(&derived, input),
            hex(&blake3::derive_key("ctx", input))
        );
        // -l 64 --seek 16: bytes 16..80 of the extended output.
        let xof = Mode {
            len: 64,
            seek: 16,
            ..Mode::default()
        };
        let mut all = [0u8; 80];
        blake3::Hasher::new()
            .update(input)
            .finalize_xof()
            .fill(&mut all);
        assert_eq!(digest(&xof, input), hex(&all[16..]));
        assert_eq!(
            digest(&Mode::of(Algo::Sha256), input),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest(&Mode::of(Algo::Sha512), input).starts_with("ddaf35a193617aba"));
    }

    #[test]
    fn hex_round_trips_at_any_even_length() {
        for len in [1usize, 16, 32, 64, 131] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let d = Digest::from_hex(hex(&bytes).as_bytes()).unwrap();
            assert_eq!(d.as_bytes(), &bytes[..]);
        }
        assert!(Digest::from_hex(b"abc").is_none());
        assert!(Digest::from_hex(b"zz").is_none());
        // Every byte that is not a hex digit is refused, in either place of a pair; both
        // cases of the digits are read.
        for b in 0..=255u8 {
            let digit = b.is_ascii_hexdigit();
            assert_eq!(Digest::from_hex(&[b, b'0']).is_some(), digit, "{b}");
            assert_eq!(Digest::from_hex(&[b'0', b]).is_some(), digit, "{b}");
        }
        let upper = "AB".repeat(32);
        let d = Digest::from_hex(upper.as_bytes()).unwrap();
        assert_eq!(d, Digest::Blake3(blake3::Hash::from_bytes([0xab; 32])));
        assert_eq!(d.to_hex(), "ab".repeat(32));
    }

    #[test]
    fn the_fingerprint_names_the_mode_never_the_key() {
        let key = [0x41u8; 32];
        let m = Mode {
            key: Some(key),
            ..Mode::default()
        };
        let f = m.fingerprint();
        assert!(!f.contains("4141") && !f.contains("AAAA"), "{f}");
        assert_ne!(f, Mode::default().fingerprint());
    }

    #[test]
    fn two_keys_give_two_fingerprints_and_the_key_is_not_in_them() {
        let a = Mode {
            key: Some([1; 32]),
            ..Mode::default()
        };
        let b = Mode {
            key: Some([2; 32]),
            ..Mode::default()
        };
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), a.clone().fingerprint());
        assert_ne!(a.fingerprint(), Mode::default().fingerprint());
        let key_hex = Digest::Bytes(Box::new([1u8; 32])).to_hex();
        assert!(!a.fingerprint().contains(&key_hex[..16]));
        for other in [
            Mode {
                len: 64,
                ..Mode::default()
            },
            Mode {
                seek: 1,
                ..Mode::default()
            },
            Mode {
                context: Some("c".into()),
                ..Mode::default()
            },
            Mode::of(Algo::Sha256),
        ] {
            assert_ne!(
                other.fingerprint(),
                Mode::default().fingerprint(),
                "{other:?}"
            );
        }
    }
}
