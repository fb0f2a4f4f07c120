//! Sans-I/O state machine of one monitor connection: bytes in → accepted packets, rejections, 9014 replies to
//! write back, and when to hang up. No sockets and no clock: the caller passes what it read and the time, writes
//! the [`Event::Reply`] frames, and calls [`Connection::poll_timeout`] at [`Connection::deadline`].
//!
//! Per-connection limits ([`ConnectionLimits`]): the frame size cap of the [`Decoder`] bounds the buffer; the
//! connection closes after an idle period, after too many consecutive rejected frames, or after too much noise
//! without a single good frame. Split uploads are reassembled per connection ([`Reassembler`]); every part is
//! still reported and answered on its own.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::frame::{Decoder, FrameError, FrameErrorKind, FramingFault, Limits};
use super::packet::Packet;
use super::reassembly::{Reassembler, ReassemblyError, ReassemblyLimits};
use super::reply::data_response;
use super::stream::Rejection;

/// Limits of one [`Connection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Frame size limits (they also bound the receive buffer).
    pub frame: Limits,
    /// Close after this long without any byte. Default 10 min (monitors upload real-time data every 30–3600 s).
    pub idle_timeout: Duration,
    /// Close after this many rejected frames in a row. Default 16.
    pub max_consecutive_rejections: u32,
    /// Close after this many noise bytes (not part of any frame) since the last good frame. Default 64 KiB.
    pub max_noise_bytes: usize,
    /// Split-packet reassembly limits.
    pub reassembly: ReassemblyLimits,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            frame: Limits::default(),
            idle_timeout: Duration::from_secs(600),
            max_consecutive_rejections: 16,
            max_noise_bytes: 64 * 1024,
            reassembly: ReassemblyLimits::default(),
        }
    }
}

/// Why the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    /// No bytes for [`ConnectionLimits::idle_timeout`].
    Idle,
    /// [`ConnectionLimits::max_consecutive_rejections`] rejected frames in a row.
    TooManyRejections,
    /// [`ConnectionLimits::max_noise_bytes`] of noise since the last good frame.
    TooMuchNoise,
    /// The peer closed its side ([`Connection::finish`]).
    PeerClosed,
}

/// What the caller must handle, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An accepted packet (a split part too) and the raw bytes of its frame.
    Packet {
        /// The packet.
        packet: Packet,
        /// Its frame as received, to keep.
        raw: Vec<u8>,
    },
    /// All parts of a split upload arrived: the merged packet.
    Reassembled(Packet),
    /// Rejected bytes and why (to keep raw with the reason; they yield no measurements).
    Rejected {
        /// Why.
        error: Rejection,
        /// The bytes.
        raw: Vec<u8>,
    },
    /// Parts of a split upload that could not be merged.
    SplitFailed(ReassemblyError),
    /// A frame to write back to the monitor (a 9014 数据应答).
    Reply(String),
    /// Close the connection; nothing more will be produced.
    Close(CloseReason),
}

/// One monitor connection.
#[derive(Debug)]
pub struct Connection {
    limits: ConnectionLimits,
    decoder: Decoder,
    buf: Vec<u8>,
    reassembler: Reassembler,
    last_activity: Instant,
    consecutive_rejections: u32,
    noise_bytes: usize,
    /// Noise skipped and not yet reported (reported as one rejection before the next event).
    noise: Vec<u8>,
    closed: bool,
}

impl Connection {
    /// A new connection opened at `now`.
    #[must_use]
    pub fn new(limits: ConnectionLimits, now: Instant) -> Self {
        Self {
            limits,
            decoder: Decoder::new(limits.frame),
            buf: Vec::new(),
            reassembler: Reassembler::new(limits.reassembly),
            last_activity: now,
            consecutive_rejections: 0,
            noise_bytes: 0,
            noise: Vec::new(),
            closed: false,
        }
    }

    /// Whether a [`Event::Close`] was produced.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Bytes received and not yet part of a frame or rejection.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// When [`poll_timeout`](Self::poll_timeout) has something to do next (idle close).
    #[must_use]
    pub fn deadline(&self) -> Instant {
        self.last_activity + self.limits.idle_timeout
    }

    /// Takes bytes read from the socket at `now`.
    pub fn receive(&mut self, bytes: &[u8], now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if self.closed || bytes.is_empty() {
            return events;
        }
        self.last_activity = now;
        self.buf.extend_from_slice(bytes);
        self.drain(false, now, &mut events);
        events
    }

    /// The peer closed its side: decodes what is left (a last frame without trailer is accepted) and closes.
    pub fn finish(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if self.closed {
            return events;
        }
        self.drain(true, now, &mut events);
        self.close(CloseReason::PeerClosed, &mut events);
        events
    }

    /// Expires split uploads that waited too long and closes an idle connection.
    pub fn poll_timeout(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        if self.closed {
            return events;
        }
        events.extend(self.reassembler.expire(now).into_iter().map(Event::SplitFailed));
        if now >= self.deadline() {
            self.close(CloseReason::Idle, &mut events);
        }
        events
    }

    fn close(&mut self, reason: CloseReason, events: &mut Vec<Event>) {
        if !self.closed {
            self.flush_noise(events);
            self.closed = true;
            self.buf.clear();
            events.push(Event::Close(reason));
        }
    }

    /// Reports the noise skipped since the last event as one rejection.
    fn flush_noise(&mut self, events: &mut Vec<Event>) {
        if !self.noise.is_empty() {
            let raw = std::mem::take(&mut self.noise);
            let error = Rejection::Frame(FrameErrorKind::BadFraming { reason: FramingFault::NoHeader });
            events.push(Event::Rejected { error, raw });
        }
    }

    fn drain(&mut self, eof: bool, now: Instant, events: &mut Vec<Event>) {
        while !self.closed && !self.buf.is_empty() {
            let result = if eof { self.decoder.decode_eof(&self.buf) } else { self.decoder.decode(&self.buf) };
            match result {
                Ok(None) => break,
                Ok(Some((frame, used))) => {
                    self.flush_noise(events);
                    let raw: Vec<u8> = self.buf.drain(..used).collect();
                    match Packet::from_frame(frame) {
                        Ok(packet) => self.accept(packet, raw, now, events),
                        Err(e) => self.reject(Rejection::Packet(e), raw, events),
                    }
                }
                Err(FrameError { kind: FrameErrorKind::BadFraming { reason: FramingFault::NoHeader }, skip }) => {
                    self.noise.extend(self.buf.drain(..skip));
                    self.noise_bytes += skip;
                    if self.noise_bytes > self.limits.max_noise_bytes {
                        self.close(CloseReason::TooMuchNoise, events);
                    } else if self.noise.len() >= self.limits.frame.max_frame() {
                        self.flush_noise(events);
                    }
                }
                Err(e) => {
                    self.flush_noise(events);
                    let raw: Vec<u8> = self.buf.drain(..e.skip).collect();
                    self.reject(Rejection::Frame(e.kind), raw, events);
                }
            }
        }
        if eof {
            self.flush_noise(events);
        }
    }

    fn accept(&mut self, packet: Packet, raw: Vec<u8>, now: Instant, events: &mut Vec<Event>) {
        self.consecutive_rejections = 0;
        self.noise_bytes = 0;
        let reply = data_response(&packet);
        let part = packet.is_part().then(|| packet.clone());
        events.push(Event::Packet { packet, raw });
        if let Some(reply) = reply {
            events.push(Event::Reply(reply));
        }
        if let Some(part) = part {
            match self.reassembler.push(part, now) {
                Ok(Some(merged)) => events.push(Event::Reassembled(merged)),
                Ok(None) => {}
                Err(e) => events.push(Event::SplitFailed(e)),
            }
        }
    }

    fn reject(&mut self, error: Rejection, raw: Vec<u8>, events: &mut Vec<Event>) {
        events.push(Event::Rejected { error, raw });
        self.consecutive_rejections += 1;
        if self.consecutive_rejections >= self.limits.max_consecutive_rejections {
            self.close(CloseReason::TooManyRejections, events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hj212::frame::encode_frame;

    const UPLOAD: &str = "QN=20240315083000123;ST=39;CN=2011;PW=123456;MN=010000A8900016F000169DC0;Flag=5;CP=&&DataTime=20240315083000;a34002-Rtd=85.2,a34002-Flag=N&&";

    fn wire(segment: &str) -> Vec<u8> {
        encode_frame(segment).expect("short").into_bytes()
    }

    fn kinds(events: &[Event]) -> Vec<&'static str> {
        events
            .iter()
            .map(|e| match e {
                Event::Packet { .. } => "packet",
                Event::Reassembled(_) => "reassembled",
                Event::Rejected { .. } => "rejected",
                Event::SplitFailed(_) => "split_failed",
                Event::Reply(_) => "reply",
                Event::Close(_) => "close",
            })
            .collect()
    }

    #[test]
    fn packets_and_replies_in_order_across_chunks() {
        let now = Instant::now();
        let mut c = Connection::new(ConnectionLimits::default(), now);
        let mut stream = b"AT+CSQ\r\n".to_vec();
        stream.extend(wire(UPLOAD));
        stream.extend(wire(&UPLOAD.replace("Flag=5", "Flag=4")));
        let mut events = Vec::new();
        for chunk in stream.chunks(7) {
            events.extend(c.receive(chunk, now));
        }
        assert_eq!(kinds(&events), ["rejected", "packet", "reply", "packet"]);
        let Event::Rejected { raw, .. } = &events[0] else { panic!("noise first") };
        assert_eq!(raw, b"AT+CSQ\r\n", "noise reported once, whole");
        let Event::Reply(reply) = &events[2] else { panic!("reply") };
        assert!(reply.contains("QN=20240315083000123;ST=91;CN=9014;") && reply.ends_with("\r\n"));
        assert_eq!(c.buffered(), 0);
        assert_eq!(kinds(&c.finish(now)), ["close"]);
        assert!(c.is_closed() && c.receive(b"##", now).is_empty());
    }

    #[test]
    fn bad_crc_gets_no_reply_and_repeated_rejections_close() {
        let now = Instant::now();
        let limits = ConnectionLimits { max_consecutive_rejections: 3, ..Default::default() };
        let mut c = Connection::new(limits, now);
        let mut bad = wire(UPLOAD);
        let n = bad.len();
        bad[n - 6..n - 2].copy_from_slice(b"0000");
        assert_eq!(kinds(&c.receive(&bad, now)), ["rejected"]);
        assert_eq!(kinds(&c.receive(&wire(UPLOAD), now)), ["packet", "reply"], "a good frame resets the count");
        assert_eq!(kinds(&c.receive(&bad, now)), ["rejected"]);
        assert_eq!(kinds(&c.receive(&bad, now)), ["rejected"]);
        assert_eq!(kinds(&c.receive(&bad, now)), ["rejected", "close"]);
    }

    #[test]
    fn noise_limit() {
        let now = Instant::now();
        let mut c = Connection::new(ConnectionLimits { max_noise_bytes: 100, ..Default::default() }, now);
        assert!(c.receive(&[b'x'; 60], now).is_empty(), "noise is reported with the next event");
        assert_eq!(kinds(&c.receive(&[b'x'; 60], now)), ["rejected", "close"]);
    }

    #[test]
    fn split_parts_are_answered_and_merged() {
        let now = Instant::now();
        let mut c = Connection::new(ConnectionLimits::default(), now);
        let part = |qn: &str, pno: u16, item: &str| {
            wire(&format!(
                "QN={qn};ST=39;CN=2061;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=2;PNO={pno};CP=&&DataTime=20240315080000;{item}&&"
            ))
        };
        let events = c.receive(&part("20240315090000111", 1, "a34002-Avg=151.0"), now);
        assert_eq!(kinds(&events), ["packet", "reply"]);
        let events = c.receive(&part("20240315090000222", 2, "a34004-Avg=70.2"), now);
        assert_eq!(kinds(&events), ["packet", "reply", "reassembled"]);
        let Event::Reassembled(merged) = &events[2] else { panic!("merged") };
        assert_eq!((merged.cp.get("a34002", "Avg"), merged.cp.get("a34004", "Avg")), (Some("151.0"), Some("70.2")));
    }

    #[test]
    fn idle_timeout_and_split_expiry() {
        let now = Instant::now();
        let limits = ConnectionLimits {
            idle_timeout: Duration::from_secs(60),
            reassembly: ReassemblyLimits { timeout: Duration::from_secs(30), ..Default::default() },
            ..Default::default()
        };
        let mut c = Connection::new(limits, now);
        let part =
            wire("QN=20240315090000111;ST=39;CN=2061;Flag=7;PNUM=2;PNO=1;CP=&&DataTime=20240315080000;a-Avg=1&&");
        c.receive(&part, now);
        assert!(c.poll_timeout(now + Duration::from_secs(10)).is_empty());
        assert_eq!(kinds(&c.poll_timeout(now + Duration::from_secs(31))), ["split_failed"]);
        assert_eq!(c.deadline(), now + Duration::from_secs(60));
        assert_eq!(c.poll_timeout(now + Duration::from_secs(60)), vec![Event::Close(CloseReason::Idle)]);
    }

    #[test]
    fn finish_accepts_a_last_frame_without_trailer_and_reports_a_cut_one() {
        let now = Instant::now();
        let mut c = Connection::new(ConnectionLimits::default(), now);
        let mut bytes = wire(UPLOAD);
        bytes.truncate(bytes.len() - 2);
        assert!(c.receive(&bytes, now).is_empty(), "waits for the trailer");
        assert_eq!(kinds(&c.finish(now)), ["packet", "reply", "close"]);

        let mut c = Connection::new(ConnectionLimits::default(), now);
        assert!(c.receive(&wire(UPLOAD)[..40], now).is_empty());
        let events = c.finish(now);
        assert_eq!(kinds(&events), ["rejected", "close"]);
        assert!(matches!(
            &events[0],
            Event::Rejected {
                error: Rejection::Frame(FrameErrorKind::BadFraming { reason: FramingFault::Truncated { have: 40 } }),
                ..
            }
        ));
    }
}
