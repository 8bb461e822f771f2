//! Which BLAKE3 implementation this CPU gets, for `--version`: the blake3 crate picks it at
//! run time from the CPU's features, in this order, and does not say which; we ask the same
//! questions.

/// The name of the SIMD implementation blake3 uses on this CPU.
pub fn blake3_implementation() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vl") {
            return "AVX-512";
        }
        if is_x86_feature_detected!("avx2") {
            return "AVX2";
        }
        if is_x86_feature_detected!("sse4.1") {
            return "SSE4.1";
        }
        "SSE2"
    }
    #[cfg(target_arch = "aarch64")]
    {
        "NEON"
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        "portable"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_one_of_the_known_implementations() {
        let name = super::blake3_implementation();
        assert!(["AVX-512", "AVX2", "SSE4.1", "SSE2", "NEON", "portable"].contains(&name));
    }
}
