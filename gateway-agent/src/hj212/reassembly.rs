//! Reassembly of split packets (拆分包, `Flag` bit D with `PNUM` 总包数 / `PNO` 包号).
//!
//! A [`Reassembler`] is pure: the caller passes the time, and asks [`Reassembler::expire`] for groups that waited
//! too long. Everything is bounded by [`ReassemblyLimits`].
//!
//! **Grouping.** DOMAIN.md §2.3 (表 C.50) says split parts carry **their own `QN`**, while many implementations
//! repeat the first part's `QN`. Keying by `(MN, QN)` would never complete the standard's case, so parts are
//! grouped by [`SplitKey`] `(MN, ST, CN, PNUM)` and placed by `PNO`; the merged packet takes the header (and
//! `QN`) of part 1. A device sends one split upload at a time (each part waits for its 9014), and two guards keep
//! different uploads apart: a second, different part with the same `PNO` restarts the group
//! ([`ReassemblyError::Restarted`]), and parts whose `DataTime` or CP values disagree are not merged
//! ([`ReassemblyError::Inconsistent`]). An identical part again (a retransmission) is ignored.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::packet::Packet;

/// Bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Groups waiting at once. Default 16.
    pub max_groups: usize,
    /// Largest `PNUM` accepted. Default 64.
    pub max_parts: u16,
    /// Largest total CP size of one group, in bytes. Default 256 KiB.
    pub max_bytes: usize,
    /// How long a group may wait for its missing parts. Default 120 s (10 s timeout × 3 retries per part, 表 1,
    /// with room for several parts).
    pub timeout: Duration,
}

impl Default for ReassemblyLimits {
    fn default() -> Self {
        Self { max_groups: 16, max_parts: 64, max_bytes: 256 * 1024, timeout: Duration::from_secs(120) }
    }
}

/// What identifies the parts of one split upload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SplitKey {
    /// `MN`.
    pub mn: Option<String>,
    /// `ST`.
    pub st: Option<String>,
    /// `CN`.
    pub cn: u16,
    /// `PNUM`.
    pub pnum: u16,
}

impl SplitKey {
    fn of(packet: &Packet, pnum: u16) -> Self {
        Self { mn: packet.mn.clone(), st: packet.st.clone(), cn: packet.cn, pnum }
    }
}

/// Why parts were not (or not all) reassembled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum ReassemblyError {
    /// `PNUM` above [`ReassemblyLimits::max_parts`]; the part is not kept.
    #[error("PNUM {pnum} exceeds the limit of {max} parts")]
    TooManyParts {
        /// `PNUM`.
        pnum: u16,
        /// The limit.
        max: u16,
    },
    /// [`ReassemblyLimits::max_groups`] groups are already waiting; the part is not kept.
    #[error("{max} split uploads already waiting")]
    TooManyGroups {
        /// The limit.
        max: usize,
    },
    /// The group grew over [`ReassemblyLimits::max_bytes`]; it is dropped with this part.
    #[error("split upload {key:?} exceeds {max} bytes")]
    TooLarge {
        /// The group.
        key: SplitKey,
        /// The limit.
        max: usize,
    },
    /// A different part with an already received `PNO`: the old group (`discarded` parts) is dropped and a new
    /// one started **with this part**.
    #[error("part {pno} of {key:?} arrived again with other content; {discarded} earlier parts discarded")]
    Restarted {
        /// The group.
        key: SplitKey,
        /// The repeated `PNO`.
        pno: u16,
        /// Parts dropped.
        discarded: usize,
    },
    /// All parts arrived but do not agree (`DataTime`, or one CP field with two values); the group is dropped.
    #[error("parts of {key:?} disagree: {reason}")]
    Inconsistent {
        /// The group.
        key: SplitKey,
        /// What disagrees.
        reason: String,
    },
    /// The group waited longer than [`ReassemblyLimits::timeout`] (from [`Reassembler::expire`]).
    #[error("split upload {key:?} expired with {have} of {} parts", key.pnum)]
    Expired {
        /// The group.
        key: SplitKey,
        /// Parts received.
        have: usize,
    },
}

#[derive(Debug)]
struct Group {
    parts: BTreeMap<u16, Packet>,
    started: Instant,
    bytes: usize,
}

/// Collects the parts of split uploads and yields the merged packet once all have arrived.
#[derive(Debug, Default)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    groups: BTreeMap<SplitKey, Group>,
}

impl Reassembler {
    /// An empty reassembler.
    #[must_use]
    pub fn new(limits: ReassemblyLimits) -> Self {
        Self { limits, groups: BTreeMap::new() }
    }

    /// Groups waiting for parts.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.groups.len()
    }

    /// Takes one packet. A whole packet (no `PNUM`, or `PNUM=1`) comes straight back. A part gives `Ok(None)`
    /// until the last one arrives, then the merged packet: part 1's header, `PNUM` kept, `PNO` cleared, the union
    /// of the CP areas and of the deviations.
    pub fn push(&mut self, packet: Packet, now: Instant) -> Result<Option<Packet>, ReassemblyError> {
        let (Some(pnum), Some(pno)) = (packet.pnum, packet.pno) else {
            return Ok(Some(packet));
        };
        if pnum <= 1 {
            return Ok(Some(packet));
        }
        if pnum > self.limits.max_parts {
            return Err(ReassemblyError::TooManyParts { pnum, max: self.limits.max_parts });
        }
        let key = SplitKey::of(&packet, pnum);
        let size = packet.cp.encode().len();
        let mut restarted = None;
        if let Some(group) = self.groups.get_mut(&key) {
            match group.parts.get(&pno) {
                Some(old) if same_part(old, &packet) => return Ok(None),
                Some(_) => {
                    let discarded = group.parts.len();
                    self.groups.remove(&key);
                    restarted = Some(ReassemblyError::Restarted { key: key.clone(), pno, discarded });
                }
                None => {
                    group.bytes += size;
                    if group.bytes > self.limits.max_bytes {
                        self.groups.remove(&key);
                        return Err(ReassemblyError::TooLarge { key, max: self.limits.max_bytes });
                    }
                    group.parts.insert(pno, packet);
                    return self.complete(key);
                }
            }
        }
        if self.groups.len() >= self.limits.max_groups {
            return Err(restarted.unwrap_or(ReassemblyError::TooManyGroups { max: self.limits.max_groups }));
        }
        if size > self.limits.max_bytes {
            return Err(restarted.unwrap_or(ReassemblyError::TooLarge { key, max: self.limits.max_bytes }));
        }
        self.groups.insert(key, Group { parts: BTreeMap::from([(pno, packet)]), started: now, bytes: size });
        restarted.map_or(Ok(None), Err)
    }

    /// Drops the groups that waited longer than the timeout at `now`, reporting each.
    pub fn expire(&mut self, now: Instant) -> Vec<ReassemblyError> {
        let timeout = self.limits.timeout;
        let stale: Vec<SplitKey> = self
            .groups
            .iter()
            .filter(|(_, g)| now.saturating_duration_since(g.started) > timeout)
            .map(|(k, _)| k.clone())
            .collect();
        stale
            .into_iter()
            .filter_map(|key| {
                let have = self.groups.remove(&key)?.parts.len();
                Some(ReassemblyError::Expired { key, have })
            })
            .collect()
    }

    fn complete(&mut self, key: SplitKey) -> Result<Option<Packet>, ReassemblyError> {
        if self.groups.get(&key).is_none_or(|g| g.parts.len() < usize::from(key.pnum)) {
            return Ok(None);
        }
        let Some(group) = self.groups.remove(&key) else {
            return Ok(None);
        };
        merge(key, group.parts.into_values()).map(Some)
    }
}

fn same_part(a: &Packet, b: &Packet) -> bool {
    a.qn == b.qn && a.cp == b.cp
}

fn merge(key: SplitKey, parts: impl Iterator<Item = Packet>) -> Result<Packet, ReassemblyError> {
    let inconsistent = |reason: String| ReassemblyError::Inconsistent { key: key.clone(), reason };
    let mut merged: Option<Packet> = None;
    for part in parts {
        let Some(acc) = merged.as_mut() else {
            let mut first = part;
            first.pno = None;
            merged = Some(first);
            continue;
        };
        match (&acc.cp.data_time, part.cp.data_time) {
            (Some(a), Some(b)) if *a != b => return Err(inconsistent(format!("DataTime {a} and {b}"))),
            (None, Some(b)) => acc.cp.data_time = Some(b),
            _ => {}
        }
        for (name, value) in part.cp.fields {
            if let Some(old) = acc.cp.fields.get(&name).filter(|old| **old != value) {
                return Err(inconsistent(format!("{name}={old} and {name}={value}")));
            }
            acc.cp.fields.insert(name, value);
        }
        for (code, fields) in part.cp.items {
            let slot = acc.cp.items.entry(code.clone()).or_default();
            for (field, value) in fields {
                if let Some(old) = slot.get(&field).filter(|old| **old != value) {
                    return Err(inconsistent(format!("{code}-{field}={old} and {value}")));
                }
                slot.insert(field, value);
            }
        }
        for d in part.deviations {
            d.record(&mut acc.deviations);
        }
    }
    merged.ok_or_else(|| inconsistent("no parts".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(qn: &str, pno: u16, data_time: &str, items: &str) -> Packet {
        let s = format!(
            "QN={qn};ST=39;CN=2051;PW=123456;MN=010000A8900016F000169DC0;Flag=7;PNUM=2;PNO={pno};CP=&&DataTime={data_time};{items}&&"
        );
        Packet::parse(s.as_bytes()).expect("parses")
    }

    #[test]
    fn whole_packets_pass_through() {
        let mut r = Reassembler::default();
        let p = Packet::parse(b"QN=20240101120000000;ST=39;CN=2011;Flag=5;CP=&&&&").expect("parses");
        assert_eq!(r.push(p.clone(), Instant::now()), Ok(Some(p)));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn parts_with_own_qn_merge_in_pno_order() {
        let mut r = Reassembler::default();
        let now = Instant::now();
        let p2 = part("20240101120000200", 2, "20240101115000", "a34004-Avg=10,a34004-Flag=N");
        let p1 = part("20240101120000100", 1, "20240101115000", "a34002-Avg=31,a34002-Flag=N");
        assert_eq!(r.push(p2.clone(), now), Ok(None));
        assert_eq!(r.push(p2, now), Ok(None), "a retransmission is ignored");
        let merged = r.push(p1, now).expect("consistent").expect("complete");
        assert_eq!(merged.qn.as_deref(), Some("20240101120000100"));
        assert_eq!((merged.pnum, merged.pno), (Some(2), None));
        assert_eq!(merged.cp.get("a34002", "Avg"), Some("31"));
        assert_eq!(merged.cp.get("a34004", "Avg"), Some("10"));
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn shared_qn_also_merges() {
        let mut r = Reassembler::default();
        let now = Instant::now();
        let qn = "20240101120000100";
        assert_eq!(r.push(part(qn, 1, "20240101115000", "a-Avg=1"), now), Ok(None));
        assert!(r.push(part(qn, 2, "20240101115000", "b-Avg=2"), now).expect("ok").is_some());
    }

    #[test]
    fn guards() {
        let now = Instant::now();
        let mut r = Reassembler::default();
        assert_eq!(r.push(part("20240101120000100", 1, "20240101115000", "a-Avg=1"), now), Ok(None));
        let err = r.push(part("20240101120000300", 1, "20240101116000", "a-Avg=5"), now).expect_err("restart");
        assert!(matches!(err, ReassemblyError::Restarted { pno: 1, discarded: 1, .. }));
        assert_eq!(r.pending(), 1, "the new part started a new group");
        let err = r.push(part("20240101120000400", 2, "20240101115000", "b-Avg=2"), now).expect_err("mismatch");
        assert!(matches!(err, ReassemblyError::Inconsistent { .. }), "{err}");
        assert_eq!(r.pending(), 0);

        let mut r = Reassembler::new(ReassemblyLimits { timeout: Duration::from_secs(10), ..Default::default() });
        assert_eq!(r.push(part("20240101120000100", 1, "20240101115000", "a-Avg=1"), now), Ok(None));
        assert!(r.expire(now + Duration::from_secs(5)).is_empty());
        let expired = r.expire(now + Duration::from_secs(11));
        assert!(matches!(expired.as_slice(), [ReassemblyError::Expired { have: 1, .. }]));

        let mut r = Reassembler::new(ReassemblyLimits { max_parts: 1, ..Default::default() });
        let err = r.push(part("20240101120000100", 1, "20240101115000", "a-Avg=1"), now).expect_err("limit");
        assert_eq!(err, ReassemblyError::TooManyParts { pnum: 2, max: 1 });

        let mut r = Reassembler::new(ReassemblyLimits { max_bytes: 40, ..Default::default() });
        assert_eq!(r.push(part("20240101120000100", 1, "20240101115000", "a-Avg=1"), now), Ok(None));
        let err = r.push(part("20240101120000100", 2, "20240101115000", "b-Avg=2"), now).expect_err("size");
        assert!(matches!(err, ReassemblyError::TooLarge { max: 40, .. }));

        let mut r = Reassembler::new(ReassemblyLimits { max_groups: 1, ..Default::default() });
        assert_eq!(r.push(part("20240101120000100", 1, "20240101115000", "a-Avg=1"), now), Ok(None));
        let other = Packet::parse(b"ST=39;CN=2061;MN=X;Flag=7;PNUM=2;PNO=1;CP=&&&&").expect("parses");
        assert_eq!(r.push(other, now), Err(ReassemblyError::TooManyGroups { max: 1 }));
    }
}
