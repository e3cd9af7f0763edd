//! Zipf sampling with platform-independent arithmetic.
//!
//! `f64::ln`/`exp`/`powf` call the platform's libm, whose last-bit rounding
//! differs between systems; one differing bit can flip a sampled rank and
//! change the output. The helpers below use only IEEE-754 basic operations
//! (`+ - * /`, exact bit manipulation and `round`), which are correctly rounded
//! everywhere, so the generator is byte-identical across platforms.

use super::rng::Rng;
use std::f64::consts::{LN_2, SQRT_2};

/// `1 / (2k + 1)` for the atanh series of [`ln`].
const ATANH_COEFFS: [f64; 12] = {
    let mut c = [0.0; 12];
    let mut k = 0;
    while k < 12 {
        c[k] = 1.0 / (2 * k + 1) as f64;
        k += 1;
    }
    c
};

/// `1 / n!` for the Taylor series of [`exp`].
const EXP_COEFFS: [f64; 15] = {
    let mut c = [1.0; 15];
    let mut n = 1;
    while n < 15 {
        c[n] = c[n - 1] / n as f64;
        n += 1;
    }
    c
};

/// Natural logarithm for positive, normal `x`.
fn ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x.is_normal());
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1023u64 << 52));
    if m > SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2 atanh(z), z = (m - 1) / (m + 1), |z| <= 0.172.
    let z = (m - 1.0) / (m + 1.0);
    let z2 = z * z;
    let mut series = 0.0;
    for c in ATANH_COEFFS.iter().rev() {
        series = series * z2 + c;
    }
    exponent as f64 * LN_2 + 2.0 * z * series
}

/// `e^x`; underflows to 0 below -700 and is only used for moderate arguments.
fn exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    debug_assert!(x < 700.0);
    let k = (x / LN_2).round();
    let r = x - k * LN_2;
    // Taylor series for |r| <= ln(2)/2 in Horner form; the 14th-order
    // term is below 1e-17 relative.
    let mut sum = 0.0;
    for c in EXP_COEFFS.iter().rev() {
        sum = sum * r + c;
    }
    sum * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-4 { ln(1.0 + x) / x } else { 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)) }
}

/// `(e^x - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-4 { (exp(x) - 1.0) / x } else { 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x)) }
}

/// Zipf distribution over ranks `1..=n` with exponent `s`, sampled in O(1) by
/// rejection-inversion (Hörmann & Derflinger 1996), so `n` can be in the
/// millions without a table.
#[derive(Debug, Clone)]
pub(crate) struct Zipf {
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    threshold: f64,
}

impl Zipf {
    pub(crate) fn new(n: u64, s: f64) -> Zipf {
        assert!(n >= 1 && s > 0.0);
        let mut z = Zipf { n: n as f64, s, h_integral_x1: 0.0, h_integral_n: 0.0, threshold: 0.0 };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(z.n + 0.5);
        z.threshold = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in `1..=n`; rank 1 is the most frequent.
    pub(crate) fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_integral_n + rng.unit() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.threshold || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        exp(-self.s * ln(x))
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = ln(x);
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        exp(helper1(t) * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_and_exp_match_the_platform_closely() {
        for &x in &[1e-9, 0.001, 0.5, 1.0, 1.5, 2.0, 10.0, 1234.5, 2.0e6] {
            assert!((ln(x) - x.ln()).abs() < 1e-13 * x.ln().abs().max(1.0), "ln {x}");
        }
        for &x in &[-30.0, -1.0, -1e-3, 0.0, 0.3, 1.0, 5.0, 40.0] {
            assert!((exp(x) - x.exp()).abs() <= 1e-14 * x.exp(), "exp {x}");
        }
    }

    #[test]
    fn low_ranks_dominate_and_ranks_stay_in_range() {
        let zipf = Zipf::new(2_000, 1.1);
        let mut rng = Rng::new(1);
        let mut counts = vec![0u32; 2_001];
        for _ in 0..200_000 {
            let k = zipf.sample(&mut rng) as usize;
            assert!((1..=2_000).contains(&k));
            counts[k] += 1;
        }
        // P(1)/P(2) = 2^1.1 ~ 2.14 for a Zipf law.
        let ratio = f64::from(counts[1]) / f64::from(counts[2]);
        assert!((1.9..2.4).contains(&ratio), "ratio {ratio}");
        assert!(counts[1] > counts[10] && counts[10] > counts[500]);
    }
}
