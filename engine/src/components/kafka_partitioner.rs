//! Kafka's producer partitioners: murmur2 of the key bytes (the default for keyed records, bit-exact with Kafka's `Utils.murmur2`); keyless records (`NO_KEY`) go sticky (KIP-480, in the producer) or round robin.

/// The key of a keyless record (Kafka's null key). Such records are not
/// hashed: the sticky partitioner (KIP-480) or round robin places them.
pub const NO_KEY: u32 = u32::MAX;

/// Kafka's `Utils.murmur2`: MurmurHash2, 32-bit, seed 0x9747b28c, with the
/// tail mixed the Java way (bytes as unsigned, little-endian words).
pub fn murmur2(data: &[u8]) -> i32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len();
    let mut h: u32 = SEED ^ length as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Kafka's `BuiltInPartitioner.partitionForKey`: `toPositive(murmur2(key)) % n`
/// (`toPositive` clears the sign bit). Record keys here are numbers; their
/// bytes are the decimal text, as a `StringSerializer` would write `"7"`.
pub fn partition_for_key(key: u32, partition_count: u32) -> u32 {
    let hash = murmur2(key.to_string().as_bytes()) & 0x7fff_ffff;
    hash as u32 % partition_count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kafka's own vectors (`UtilsTest.testMurmur2`).
    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (data, expected) in cases {
            assert_eq!(murmur2(data), expected, "{:?}", std::str::from_utf8(data));
        }
    }

    #[test]
    fn keys_spread_over_partitions_and_stay_put() {
        let mut counts = [0u32; 6];
        for key in 0..600 {
            counts[partition_for_key(key, 6) as usize] += 1;
            assert_eq!(partition_for_key(key, 6), partition_for_key(key, 6));
        }
        assert!(counts.iter().all(|count| *count > 60), "{counts:?}");
    }
}
