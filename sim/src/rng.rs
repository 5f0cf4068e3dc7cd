//! Counter-based pseudo-random numbers: each value is a pure function of (seed, stream, counter),
//! so a coin's price at a step does not depend on which requests came first.

/// A uniform value in `[0, 1)`.
pub(crate) fn unit(seed: u64, stream: u64, counter: u64) -> f64 {
    // The top 53 bits fill an f64 mantissa exactly.
    (hash(seed, stream, counter) >> 11) as f64 / (1u64 << 53) as f64
}

/// A standard normal value (Box-Muller over two independent uniforms).
pub(crate) fn normal(seed: u64, stream: u64, counter: u64) -> f64 {
    let u1 = 1.0 - unit(seed, stream, counter.wrapping_mul(2)); // in (0, 1], so ln is finite
    let u2 = unit(seed, stream, counter.wrapping_mul(2).wrapping_add(1));
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// 64 uniform bits.
pub(crate) fn bits(seed: u64, stream: u64, counter: u64) -> u64 {
    hash(seed, stream, counter)
}

/// Folds bytes into a stream number, so text (an address) names its own random stream.
pub(crate) fn stream_of(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0x5EED, |acc, &b| splitmix(acc ^ u64::from(b)))
}

fn hash(seed: u64, stream: u64, counter: u64) -> u64 {
    splitmix(splitmix(splitmix(seed) ^ stream) ^ counter)
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_inputs_give_the_same_value_and_others_differ() {
        assert_eq!(unit(7, 1, 2), unit(7, 1, 2));
        assert_ne!(unit(7, 1, 2), unit(8, 1, 2));
        assert_ne!(unit(7, 1, 2), unit(7, 2, 2));
        assert_ne!(unit(7, 1, 2), unit(7, 1, 3));
    }

    #[test]
    fn normals_have_mean_near_zero_and_variance_near_one() {
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|i| normal(1, 0, i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.05, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "variance {var}");
    }
}
