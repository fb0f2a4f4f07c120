//! A small PNG plot of a city run: projection lag (top) and log growth (bottom) over wall time. Written by hand
//! (a 4-colour indexed PNG in stored deflate blocks, a 3×5 pixel font for the axis figures) rather than with a
//! plotting crate: the picture is two line charts, and a dependency with a font stack would cost more build time
//! on these machines than these hundred lines.

use super::Sample;

const W: usize = 720;
const H: usize = 420;
const WHITE: u8 = 0;
const BLACK: u8 = 1;
const BLUE: u8 = 2;
const ORANGE: u8 = 3;
const GREY: u8 = 1;

struct Canvas {
    px: Vec<u8>,
}

impl Canvas {
    fn new() -> Canvas {
        Canvas { px: vec![WHITE; W * H] }
    }

    fn set(&mut self, x: i64, y: i64, c: u8) {
        if (0..W as i64).contains(&x) && (0..H as i64).contains(&y) {
            self.px[y as usize * W + x as usize] = c;
        }
    }

    fn line(&mut self, (x0, y0): (i64, i64), (x1, y1): (i64, i64), c: u8) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            self.set(x, y, c);
            self.set(x, y + 1, c);
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text in the 3×5 font, scaled ×2, top-left at (x, y).
    fn text(&mut self, x: i64, y: i64, s: &str, c: u8) {
        for (i, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..3 {
                    if bits & (0b100 >> col) != 0 {
                        for (ox, oy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                            self.set(x + i as i64 * 8 + col * 2 + ox, y + row as i64 * 2 + oy, c);
                        }
                    }
                }
            }
        }
    }
}

/// 3×5 glyphs, one row per entry (bit 2 = left column).
fn glyph(c: char) -> [u8; 5] {
    match c.to_ascii_uppercase() {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        'A' => [2, 5, 7, 5, 5],
        'C' => [7, 4, 4, 4, 7],
        'D' => [6, 5, 5, 5, 6],
        'E' => [7, 4, 6, 4, 7],
        'G' => [7, 4, 5, 5, 7],
        'I' => [7, 2, 2, 2, 7],
        'J' => [1, 1, 1, 5, 7],
        'K' => [5, 5, 6, 5, 5],
        'L' => [4, 4, 4, 4, 7],
        'M' => [5, 7, 7, 5, 5],
        'N' => [6, 5, 5, 5, 5],
        'O' => [7, 5, 5, 5, 7],
        'P' => [7, 5, 7, 4, 4],
        'R' => [6, 5, 6, 5, 5],
        'S' => [7, 4, 7, 1, 7],
        'T' => [7, 2, 2, 2, 2],
        'W' => [5, 5, 7, 7, 5],
        '/' => [1, 1, 2, 4, 4],
        '.' => [0, 0, 0, 0, 2],
        '(' => [1, 2, 2, 2, 1],
        ')' => [4, 2, 2, 2, 4],
        ':' => [0, 2, 0, 2, 0],
        '-' => [0, 0, 7, 0, 0],
        _ => [0; 5],
    }
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.0}K", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// Draws `series` (x, y) in the panel whose top-left is (left, top), `w` × `h` pixels.
fn panel(cv: &mut Canvas, top: i64, h: i64, x_max: f64, series: &[(f64, f64)], colour: u8, label: &str) {
    let (left, w) = (70i64, W as i64 - 90);
    let y_max = series.iter().map(|p| p.1).fold(0.0f64, f64::max).max(1.0);
    cv.line((left, top), (left, top + h), BLACK);
    cv.line((left, top + h), (left + w, top + h), BLACK);
    for k in 1..=4 {
        let y = top + h - h * k / 4;
        for x in (left..left + w).step_by(6) {
            cv.set(x, y, GREY);
        }
        cv.text(4, y - 5, &short(y_max * k as f64 / 4.0), BLACK);
    }
    cv.text(left + 10, top + 4, label, colour);
    let to =
        |(x, y): (f64, f64)| (left + (x / x_max.max(1e-9) * w as f64) as i64, top + h - (y / y_max * h as f64) as i64);
    for pair in series.windows(2) {
        cv.line(to(pair[0]), to(pair[1]), colour);
    }
}

/// The PNG: lag on top, log growth (records/s between samples) below, wall seconds along.
pub fn lag_png(samples: &[Sample]) -> Vec<u8> {
    let mut cv = Canvas::new();
    let pts: Vec<&Sample> = samples.iter().filter(|s| s.lag.is_finite() && s.log_size.is_finite()).collect();
    let x_max = pts.last().map_or(1.0, |s| s.wall);
    let lag: Vec<(f64, f64)> = pts.iter().map(|s| (s.wall, s.lag)).collect();
    let rate: Vec<(f64, f64)> = pts
        .windows(2)
        .map(|p| (p[1].wall, ((p[1].log_size - p[0].log_size) / (p[1].wall - p[0].wall).max(1e-3)).max(0.0)))
        .collect();
    panel(&mut cv, 20, 160, x_max, &lag, BLUE, "PROJECTION LAG (RECORDS)");
    panel(&mut cv, 220, 160, x_max, &rate, ORANGE, "INGEST (RECORDS/S)");
    for k in 0..=4 {
        let x = 70 + (W as i64 - 90) * k / 4;
        cv.text(x - 8, 392, &short(x_max * k as f64 / 4.0), BLACK);
    }
    cv.text(W as i64 - 80, 406, "WALL S", BLACK);
    encode(&cv)
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
        }
    }
    !c
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(0).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// PNG, 2-bit indexed colour, zlib stream of stored (uncompressed) deflate blocks.
fn encode(cv: &Canvas) -> Vec<u8> {
    let mut raw = Vec::with_capacity(H * (W / 4 + 1));
    for row in cv.px.chunks(W) {
        raw.push(0); // filter: none
        for four in row.chunks(4) {
            let mut b = 0u8;
            for (i, &p) in four.iter().enumerate() {
                b |= (p & 3) << (6 - 2 * i);
            }
            raw.push(b);
        }
    }
    let mut z = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        z.push(u8::from(i + 1 == blocks.len()));
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        z.extend_from_slice(&len.to_le_bytes());
        z.extend_from_slice(&(!len).to_le_bytes());
        z.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + u32::from(x)) % 65_521;
        b = (b + a) % 65_521;
    }
    z.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&(W as u32).to_be_bytes());
    ihdr.extend_from_slice(&(H as u32).to_be_bytes());
    ihdr.extend_from_slice(&[2, 3, 0, 0, 0]); // depth 2, indexed colour
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"PLTE", &[255, 255, 255, 40, 40, 40, 31, 90, 180, 230, 120, 20]);
    chunk(&mut out, b"IDAT", &z);
    chunk(&mut out, b"IEND", &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_has_its_signature_and_a_valid_checksum_per_chunk() {
        let samples: Vec<Sample> = (0..60)
            .map(|i| Sample {
                wall: f64::from(i),
                lag: f64::from((i * 37) % 500),
                log_size: f64::from(i * 900),
                ..Sample::default()
            })
            .collect();
        let png = lag_png(&samples);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let mut i = 8;
        let mut kinds = Vec::new();
        while i < png.len() {
            let len = u32::from_be_bytes(png[i..i + 4].try_into().expect("4 bytes")) as usize;
            let body = &png[i + 4..i + 8 + len];
            let crc = u32::from_be_bytes(png[i + 8 + len..i + 12 + len].try_into().expect("4 bytes"));
            assert_eq!(crc32(body), crc);
            kinds.push(String::from_utf8_lossy(&body[..4]).into_owned());
            i += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "PLTE", "IDAT", "IEND"]);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926, "the standard CRC-32 check value");
    }
}
