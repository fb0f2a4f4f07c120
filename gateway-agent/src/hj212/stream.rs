//! A whole byte stream (a capture, a log, a fuzz input) run through the [`Decoder`] and [`Packet::parse`]: every
//! byte ends up in exactly one accepted packet or one rejection, with its position.

use std::ops::Range;

use serde::Serialize;

use super::frame::{Decoder, FrameError, FrameErrorKind};
use super::packet::{Packet, PacketError};

/// Why bytes of a stream were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(untagged)]
pub enum Rejection {
    /// Framing, length or CRC (the [`Scanned`] range says how many bytes were skipped).
    #[error(transparent)]
    Frame(FrameErrorKind),
    /// The frame was intact but its data segment cannot be trusted.
    #[error(transparent)]
    Packet(#[from] PacketError),
}

impl From<FrameError> for Rejection {
    fn from(e: FrameError) -> Self {
        Self::Frame(e.kind)
    }
}

/// One outcome of [`scan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanned {
    /// An accepted packet and the bytes of its frame.
    Packet {
        /// The packet.
        packet: Packet,
        /// Where its frame is in the input.
        raw: Range<usize>,
    },
    /// Rejected bytes (a broken frame or noise) and why.
    Rejected {
        /// Why.
        error: Rejection,
        /// Where in the input.
        raw: Range<usize>,
    },
}

impl Scanned {
    /// The bytes of the input this outcome covers.
    #[must_use]
    pub fn raw(&self) -> Range<usize> {
        match self {
            Self::Packet { raw, .. } | Self::Rejected { raw, .. } => raw.clone(),
        }
    }
}

/// Decodes all of `bytes` as a finished stream (the end counts as end of stream).
#[must_use]
pub fn scan(decoder: &Decoder, bytes: &[u8]) -> Vec<Scanned> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decoder.decode_eof(&bytes[at..]) {
            Ok(None) => break,
            Ok(Some((frame, used))) => {
                let raw = at..at + used;
                out.push(match Packet::from_frame(frame) {
                    Ok(packet) => Scanned::Packet { packet, raw },
                    Err(e) => Scanned::Rejected { error: e.into(), raw },
                });
                at += used;
            }
            Err(e) => {
                let skip = e.skip;
                out.push(Scanned::Rejected { error: e.into(), raw: at..at + skip });
                at += skip;
            }
        }
    }
    out
}

/// The fuzz oracle shared by `fuzz/fuzz_targets/hj212_frame.rs` and the seed-replay test: runs `bytes` through
/// the framer both at once and one byte at a time, and panics if an invariant breaks (outcomes tile the input in
/// order; feeding byte by byte gives the same outcomes; an accepted packet survives `encode` → `parse`).
#[doc(hidden)]
pub fn fuzz_one(bytes: &[u8]) -> Vec<Scanned> {
    let decoder = Decoder::default();
    let scanned = scan(&decoder, bytes);
    let mut next = 0;
    for item in &scanned {
        let raw = item.raw();
        assert_eq!(raw.start, next, "outcomes tile the input");
        assert!(raw.end > raw.start && raw.end <= bytes.len(), "non-empty, in bounds");
        next = raw.end;
        if let Scanned::Packet { packet, .. } = item {
            let again = Packet::parse(packet.encode().as_bytes());
            let again = again.unwrap_or_else(|e| panic!("re-encoded packet rejected: {e}: {}", packet.encode()));
            assert_eq!(
                (&again.qn, &again.st, again.cn, &again.pw, &again.mn, again.flag, again.pnum, again.pno),
                (&packet.qn, &packet.st, packet.cn, &packet.pw, &packet.mn, packet.flag, packet.pnum, packet.pno),
            );
            assert_eq!((&again.extra, &again.cp), (&packet.extra, &packet.cp), "CP survives re-encoding");
        }
    }
    assert_eq!(next, bytes.len(), "every byte accounted for");

    // Incremental: feed the bytes one at a time into a growing buffer. Noise may be skipped in other chunks, but
    // the accepted frames are the same, at the same places.
    let mut buf: Vec<u8> = Vec::new();
    let mut incremental: Vec<Range<usize>> = Vec::new();
    let mut offset = 0;
    let mut feed = |buf: &mut Vec<u8>, eof: bool| {
        while let Some((used, accepted)) = step(&decoder, buf, eof) {
            if accepted {
                incremental.push(offset..offset + used);
            }
            offset += used;
            buf.drain(..used);
        }
    };
    for &b in bytes {
        buf.push(b);
        feed(&mut buf, false);
    }
    feed(&mut buf, true);
    let at_once: Vec<Range<usize>> = scanned
        .iter()
        .filter(|s| matches!(s, Scanned::Packet { .. } | Scanned::Rejected { error: Rejection::Packet(_), .. }))
        .map(Scanned::raw)
        .collect();
    assert_eq!(incremental, at_once, "byte-by-byte decoding finds the same frames as decoding at once");
    scanned
}

/// One decoder step: bytes used and whether they were a frame (`None` when more bytes are needed).
fn step(decoder: &Decoder, buf: &[u8], eof: bool) -> Option<(usize, bool)> {
    let result = if eof { decoder.decode_eof(buf) } else { decoder.decode(buf) };
    match result {
        Ok(Some((_, used))) => Some((used, true)),
        Ok(None) => None,
        Err(e) => Some((e.skip, false)),
    }
}
