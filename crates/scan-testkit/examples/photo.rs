//! A photo-like test image for the image-scan benchmark (`bench/family`): a
//! 12 MP (4000 x 3000) noisy JPEG of about 4 MB showing one product barcode.
//!
//! ```text
//! cargo run --release -p babyshield-scan-testkit --example photo -- OUT.jpg CODE \
//!     [--size-mb 4] [--seed N] [--width 4000] [--height 3000] [--rgb]
//! ```
//!
//! CODE is 13 digits (EAN-13), 12 (UPC-A) or 8 (EAN-8), check digit
//! included. The image is a soft gradient with a few flat "packaging"
//! patches and the barcode on a white label, then sensor-like noise; the
//! noise amplitude and the JPEG quality are searched until the file is
//! within 5 % of `--size-mb` (decimal MB): the smallest amplitude that
//! reaches the size at quality <= 95, then the quality that comes closest.
//! Deterministic for a given CODE and seed. `--rgb` writes a colour JPEG
//! (three channels, as phones do) instead of a grayscale one. Prints one
//! line describing the result.

use std::process::ExitCode;

use babyshield_scan_testkit::{BarcodeFormat, Lcg, add_noise, canvas, jpeg, jpeg_rgb, render};
use image::{GrayImage, Luma};

struct Options {
    out: String,
    code: String,
    size_mb: f64,
    seed: u64,
    width: u32,
    height: u32,
    rgb: bool,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: photo OUT.jpg CODE [--size-mb 4] [--seed N] [--width 4000] [--height 3000] [--rgb]\n\
         CODE: 13 digits (EAN-13), 12 (UPC-A) or 8 (EAN-8)"
    );
    ExitCode::from(2)
}

fn parse() -> Result<Options, String> {
    let mut positional = Vec::new();
    let mut o = Options {
        out: String::new(),
        code: String::new(),
        size_mb: 4.0,
        seed: 0,
        width: 4000,
        height: 3000,
        rgb: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--size-mb" => {
                o.size_mb = value("--size-mb")?.parse().map_err(|_| "--size-mb must be a number")?;
            }
            "--seed" => o.seed = value("--seed")?.parse().map_err(|_| "--seed must be an integer")?,
            "--width" => o.width = value("--width")?.parse().map_err(|_| "--width must be an integer")?,
            "--height" => o.height = value("--height")?.parse().map_err(|_| "--height must be an integer")?,
            "--rgb" => o.rgb = true,
            "-h" | "--help" => return Err(String::new()),
            a if a.starts_with("--") => return Err(format!("unknown option {a}")),
            _ => positional.push(arg),
        }
    }
    let [out, code] = <[String; 2]>::try_from(positional).map_err(|_| "need OUT and CODE".to_string())?;
    if !(0.05..=60.0).contains(&o.size_mb) {
        return Err("--size-mb must be between 0.05 and 60".into());
    }
    if o.width < 1200 || o.height < 600 || o.width > 12_000 || o.height > 12_000 {
        return Err("--width/--height must be within 1200x600 .. 12000x12000".into());
    }
    (o.out, o.code) = (out, code);
    Ok(o)
}

fn format_of(code: &str) -> Result<(BarcodeFormat, &'static str), String> {
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("CODE must be digits: {code}"));
    }
    match code.len() {
        13 => Ok((BarcodeFormat::EAN_13, "EAN-13")),
        12 => Ok((BarcodeFormat::UPC_A, "UPC-A")),
        8 => Ok((BarcodeFormat::EAN_8, "EAN-8")),
        n => Err(format!("CODE has {n} digits; give 13 (EAN-13), 12 (UPC-A) or 8 (EAN-8)")),
    }
}

/// Gradient, a few flat patches (the package), the barcode on a white label.
fn scene(o: &Options, format: BarcodeFormat) -> GrayImage {
    let (w, h) = (o.width, o.height);
    // About 10 px per module at 4000 px wide: after the scanner's 1500 px
    // first pass that is ~3.75 px per module, as in a close-up phone photo.
    let module = (w / 400).max(3);
    let barcode = render(&o.code, format, module, h * 3 / 10, module * 6);
    let mut rng = Lcg::new(o.seed ^ 0x9e37_79b9_7f4a_7c15);
    let patch = |shade: u8, pw: u32, ph: u32| GrayImage::from_pixel(pw, ph, Luma([shade]));
    let patches = [
        patch(70, w / 4, h / 3),
        patch(190, w / 5, h / 4),
        patch(40, w / 6, h / 5),
        patch(225, w / 3, h / 8),
    ];
    // The barcode sits in the middle third, offset a little per seed.
    let (bw, bh) = barcode.dimensions();
    let bx = ((w - bw.min(w)) / 2).saturating_sub(w / 20) + rng.next_u32() % (w / 10).max(1);
    let by = ((h - bh.min(h)) / 2).saturating_sub(h / 20) + rng.next_u32() % (h / 10).max(1);
    let mut items: Vec<(&GrayImage, u32, u32)> = vec![
        (&patches[0], w / 40, h / 20),
        (&patches[1], w - w / 5 - w / 30, h / 15),
        (&patches[2], w / 12, h - h / 5 - h / 25),
        (&patches[3], w - w / 3 - w / 20, h - h / 8 - h / 30),
    ];
    items.push((&barcode, bx, by));
    canvas(w, h, &items)
}

fn encode(img: &GrayImage, quality: u8, rgb: bool) -> Vec<u8> {
    if rgb { jpeg_rgb(img, quality) } else { jpeg(img, quality) }
}

fn main() -> ExitCode {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("photo: {e}");
            }
            return usage();
        }
    };
    let (format, format_name) = match format_of(&o.code) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("photo: {e}");
            return usage();
        }
    };
    let clean = scene(&o, format);
    let target = o.size_mb * 1e6;
    let (low, high) = (target * 0.95, target * 1.05);
    const MAX_QUALITY: u8 = 95;
    const MIN_QUALITY: u8 = 40;

    // Closest (amplitude, quality, bytes) so far, in case nothing lands in
    // the window (then the closest is written and the exit status is 1).
    let mut best: Option<(i32, u8, Vec<u8>)> = None;
    let mut consider = |amp: i32, q: u8, bytes: Vec<u8>| {
        let dist = |n: usize| (n as f64 - target).abs();
        if best.as_ref().is_none_or(|(_, _, b)| dist(bytes.len()) < dist(b.len())) {
            best = Some((amp, q, bytes));
        }
    };
    'search: for amp in [4, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96] {
        let mut img = clean.clone();
        add_noise(&mut img, o.seed.wrapping_add(amp as u64), amp, 1);
        let top = encode(&img, MAX_QUALITY, o.rgb);
        let top_len = top.len() as f64;
        consider(amp, MAX_QUALITY, top);
        if top_len < low {
            continue; // not enough detail at this noise level: more noise
        }
        // Size grows with quality: bisect [MIN_QUALITY, MAX_QUALITY].
        let (mut lo, mut hi) = (MIN_QUALITY, MAX_QUALITY);
        while lo <= hi {
            let q = lo + (hi - lo) / 2;
            let bytes = encode(&img, q, o.rgb);
            let n = bytes.len() as f64;
            consider(amp, q, bytes);
            if (low..=high).contains(&n) {
                break 'search;
            }
            if n < low {
                lo = q + 1
            } else if q == 0 {
                break;
            } else {
                hi = q - 1
            }
        }
        break; // this amplitude brackets the target; the closest quality is in `best`
    }
    let Some((amp, quality, bytes)) = best else {
        eprintln!("photo: nothing encoded");
        return ExitCode::FAILURE;
    };
    if let Err(e) = std::fs::write(&o.out, &bytes) {
        eprintln!("photo: cannot write {}: {e}", o.out);
        return ExitCode::FAILURE;
    }
    let n = bytes.len() as f64;
    println!(
        "{}: {}x{} {} JPEG, {format_name} {}, noise +-{amp}, quality {quality}, {} bytes ({:.2} MB)",
        o.out,
        o.width,
        o.height,
        if o.rgb { "colour" } else { "grayscale" },
        o.code,
        bytes.len(),
        n / 1e6
    );
    if (low..=high).contains(&n) {
        ExitCode::SUCCESS
    } else {
        eprintln!("photo: could not reach {:.2} MB within 5 % (closest {:.2} MB)", o.size_mb, n / 1e6);
        ExitCode::FAILURE
    }
}
