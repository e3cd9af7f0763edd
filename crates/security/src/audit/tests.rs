use super::*;

const KEY: &[u8] = &[3; 32];

/// A stored row: the record plus the two MACs kept next to it.
#[derive(Clone)]
struct Row {
    record: AuditRecord,
    prev_mac: String,
    mac: String,
}

fn record(seq: i64) -> AuditRecord {
    AuditRecord {
        seq,
        at: format!("2026-11-22T10:00:{seq:02}Z"),
        actor: format!("user-{}", seq % 3),
        action: "recall.view".to_owned(),
        target: format!("recall-{seq}"),
        outcome: "ok".to_owned(),
        request_id: format!("req-{seq}"),
        ip_hash: hash_ip(KEY, "203.0.113.7"),
        details: "{}".to_owned(),
    }
}

/// Ten records, seq 1..=10, chained from GENESIS.
fn chain_of_ten(chain: &AuditChain) -> Vec<Row> {
    let mut prev = GENESIS.to_owned();
    (1..=10)
        .map(|seq| {
            let record = record(seq);
            let mac = chain.mac(&prev, &record);
            let row = Row { record, prev_mac: prev.clone(), mac: mac.clone() };
            prev = mac;
            row
        })
        .collect()
}

fn verify(chain: &AuditChain, rows: &[Row]) -> Result<u64, ChainBreak> {
    chain.verify(rows.iter().map(|r| (&r.record, r.prev_mac.as_str(), r.mac.as_str())))
}

fn position(rows: &[Row], seq: i64) -> usize {
    rows.iter().position(|r| r.record.seq == seq).unwrap()
}

#[test]
fn an_untouched_chain_verifies_every_row() {
    let chain = AuditChain::new(KEY);
    assert_eq!(verify(&chain, &chain_of_ten(&chain)), Ok(10));
    assert_eq!(verify(&chain, &[]), Ok(0));
}

#[test]
fn editing_a_field_of_row_4_is_reported_as_edited_at_4() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let i = position(&rows, 4);
    rows[i].record.outcome = "denied".to_owned();
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 4, kind: BreakKind::Edited }));
}

#[test]
fn every_field_including_seq_is_covered_by_the_mac() {
    let chain = AuditChain::new(KEY);
    let edits: [fn(&mut AuditRecord); 9] = [
        |r| r.seq += 100,
        |r| r.at.push('x'),
        |r| r.actor.push('x'),
        |r| r.action.push('x'),
        |r| r.target.push('x'),
        |r| r.outcome.push('x'),
        |r| r.request_id.push('x'),
        |r| r.ip_hash.push('x'),
        |r| r.details.push('x'),
    ];
    let original = record(1);
    for edit in edits {
        let mut edited = original.clone();
        edit(&mut edited);
        assert_ne!(chain.mac(GENESIS, &edited), chain.mac(GENESIS, &original), "{edited:?}");
    }
    assert_ne!(chain.mac("other", &original), chain.mac(GENESIS, &original));
}

#[test]
fn field_boundaries_are_unambiguous() {
    let chain = AuditChain::new(KEY);
    let mut a = record(1);
    let mut b = record(1);
    (a.actor, a.action) = ("ab".to_owned(), "c".to_owned());
    (b.actor, b.action) = ("a".to_owned(), "bc".to_owned());
    assert_ne!(chain.mac(GENESIS, &a), chain.mac(GENESIS, &b));
}

#[test]
fn deleting_row_5_is_reported_as_deleted_at_6() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let i = position(&rows, 5);
    rows.remove(i);
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 6, kind: BreakKind::Deleted }));
}

#[test]
fn deleting_row_5_and_renumbering_the_rest_is_still_caught_at_5() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let i = position(&rows, 5);
    rows.remove(i);
    for row in rows.iter_mut().filter(|r| r.record.seq > 5) {
        row.record.seq -= 1;
    }
    // Renumbering changes the MAC input of row "5", whose MAC the next row
    // still links to: it reads as an edit, at the right place.
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 5, kind: BreakKind::Edited }));
}

#[test]
fn deleting_the_first_row_is_reported_as_deleted_at_2() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    rows.remove(0);
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 2, kind: BreakKind::Deleted }));
}

#[test]
fn swapping_rows_6_and_7_is_reported_as_reordered() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let (i, j) = (position(&rows, 6), position(&rows, 7));
    rows.swap(i, j);
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 7, kind: BreakKind::Reordered }));
}

#[test]
fn swapping_rows_6_and_7_and_their_seqs_is_reported_as_reordered_at_6() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let (i, j) = (position(&rows, 6), position(&rows, 7));
    rows.swap(i, j);
    rows[i].record.seq = 6;
    rows[j].record.seq = 7;
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 6, kind: BreakKind::Reordered }));
}

#[test]
fn a_duplicated_row_is_reported_as_reordered() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let copy = rows[position(&rows, 3)].clone();
    let i = position(&rows, 3);
    rows.insert(i + 1, copy);
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 3, kind: BreakKind::Reordered }));
}

#[test]
fn a_mac_recomputed_with_another_key_is_reported_as_forged() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    let i = position(&rows, 4);
    rows[i].record.outcome = "denied".to_owned();
    rows[i].mac = AuditChain::new(&[9; 32]).mac(&rows[i].prev_mac, &rows[i].record);
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 4, kind: BreakKind::Forged }));
}

#[test]
fn a_whole_chain_rebuilt_with_another_key_fails_at_its_first_row() {
    let chain = AuditChain::new(KEY);
    let rows = chain_of_ten(&AuditChain::new(&[9; 32]));
    let err = verify(&chain, &rows).unwrap_err();
    assert_eq!(err.seq, 1);
    assert!(matches!(err.kind, BreakKind::Edited | BreakKind::Forged));
}

#[test]
fn editing_the_newest_row_is_reported_as_edited() {
    let chain = AuditChain::new(KEY);
    let mut rows = chain_of_ten(&chain);
    rows[9].record.details = r#"{"note":"hidden"}"#.to_owned();
    assert_eq!(verify(&chain, &rows), Err(ChainBreak { seq: 10, kind: BreakKind::Edited }));
}

#[test]
fn verification_can_continue_from_a_checkpoint() {
    let chain = AuditChain::new(KEY);
    let rows = chain_of_ten(&chain);
    let (head, tail) = rows.split_at(6);
    let last = head.last().unwrap();
    let tail_iter = || tail.iter().map(|r| (&r.record, r.prev_mac.as_str(), r.mac.as_str()));
    assert_eq!(chain.verify_continuing(6, &last.mac, tail_iter()), Ok(4));
    // The checkpoint pins the head: a tail that does not follow it is refused.
    assert_eq!(
        chain.verify_continuing(6, &head[4].mac, tail_iter()),
        Err(ChainBreak { seq: 7, kind: BreakKind::Deleted })
    );
    assert_eq!(
        chain.verify_continuing(5, &last.mac, tail_iter()),
        Err(ChainBreak { seq: 7, kind: BreakKind::Deleted })
    );
}

#[test]
fn break_messages_name_the_seq_and_kind() {
    let err = ChainBreak { seq: 6, kind: BreakKind::Deleted };
    assert_eq!(err.to_string(), "audit chain broken at seq 6: record deleted");
}

#[test]
fn ip_hash_is_32_hex_chars_keyed_and_stable() {
    let a = hash_ip(KEY, "203.0.113.7");
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(a, hash_ip(KEY, "203.0.113.7"));
    assert_ne!(a, hash_ip(KEY, "203.0.113.8"));
    assert_ne!(a, hash_ip(&[4; 32], "203.0.113.7"));
    assert!(!a.contains("203"));
}
