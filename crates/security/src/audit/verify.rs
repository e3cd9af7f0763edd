//! Walking a stored chain and naming the first break.
//!
//! Rows are checked in the order given (the store returns them by `seq`),
//! looking one row ahead. For each row, the first rule that fires wins:
//!
//! 1. `seq` not above the previous row's                    -> `Reordered`
//! 2. `seq` skips ahead: if the next row carries a smaller seq
//!    the missing one was moved -> `Reordered`, else it is gone -> `Deleted`
//! 3. `prev_mac` is not the previous row's MAC (or [`GENESIS`] for the first):
//!    it names the *next* row's MAC                          -> `Reordered`;
//!    the row itself is authentic, so it really followed a row that is no
//!    longer there                                           -> `Deleted`
//! 4. the MAC does not match the content: if the next row still links to this
//!    MAC (or there is no next row) the MAC is original and the content
//!    changed -> `Edited`; otherwise the MAC itself was replaced -> `Forged`
//!
//! Limits: one row of look-ahead, so only adjacent swaps are named
//! `Reordered` (others still fail, as `Deleted` or `Edited`); deleting the
//! newest rows leaves a valid shorter chain, so keep the latest seq and MAC
//! somewhere else too and check with [`AuditChain::verify_continuing`].

use super::{AuditChain, AuditRecord, GENESIS};

/// What kind of tampering the first broken row shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    Edited,
    Deleted,
    Reordered,
    Forged,
}

impl std::fmt::Display for BreakKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BreakKind::Edited => "record edited",
            BreakKind::Deleted => "record deleted",
            BreakKind::Reordered => "records reordered",
            BreakKind::Forged => "record forged",
        })
    }
}

/// The first row at which the chain stops being trustworthy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at seq {seq}: {kind}")]
pub struct ChainBreak {
    pub seq: i64,
    pub kind: BreakKind,
}

impl AuditChain {
    /// Verifies a whole chain from its first record (whose `prev_mac` must be
    /// [`GENESIS`]); returns how many rows were checked.
    pub fn verify<'a>(
        &self,
        rows: impl IntoIterator<Item = (&'a AuditRecord, &'a str, &'a str)>,
    ) -> Result<u64, ChainBreak> {
        self.walk(None, GENESIS, rows)
    }

    /// Verifies rows appended after an already-verified checkpoint
    /// (`last_seq`, `last_mac`), so a periodic job need not re-read the whole log.
    pub fn verify_continuing<'a>(
        &self,
        last_seq: i64,
        last_mac: &'a str,
        rows: impl IntoIterator<Item = (&'a AuditRecord, &'a str, &'a str)>,
    ) -> Result<u64, ChainBreak> {
        self.walk(Some(last_seq), last_mac, rows)
    }

    fn walk<'a>(
        &self,
        mut prev_seq: Option<i64>,
        mut expected_prev: &'a str,
        rows: impl IntoIterator<Item = (&'a AuditRecord, &'a str, &'a str)>,
    ) -> Result<u64, ChainBreak> {
        let mut rows = rows.into_iter().peekable();
        let mut checked = 0u64;
        while let Some((record, prev_mac, mac)) = rows.next() {
            let next = rows.peek().copied();
            let seq = record.seq;
            let broken = |kind| Err(ChainBreak { seq, kind });

            if let Some(prev_seq) = prev_seq {
                if seq <= prev_seq {
                    return broken(BreakKind::Reordered);
                }
                if seq != prev_seq + 1 {
                    let missing_comes_later = next.is_some_and(|(n, _, _)| n.seq < seq);
                    return broken(if missing_comes_later {
                        BreakKind::Reordered
                    } else {
                        BreakKind::Deleted
                    });
                }
            }

            let authentic = ct_eq(&self.mac(prev_mac, record), mac);
            if !ct_eq(prev_mac, expected_prev) {
                if next.is_some_and(|(_, _, next_mac)| ct_eq(prev_mac, next_mac)) {
                    return broken(BreakKind::Reordered);
                }
                if authentic {
                    return broken(BreakKind::Deleted);
                }
            }
            if !authentic {
                let mac_is_original = next.is_none_or(|(_, next_prev, _)| ct_eq(next_prev, mac));
                return broken(if mac_is_original { BreakKind::Edited } else { BreakKind::Forged });
            }

            prev_seq = Some(seq);
            expected_prev = mac;
            checked += 1;
        }
        Ok(checked)
    }
}

/// Comparison whose time does not depend on where the strings differ.
fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
