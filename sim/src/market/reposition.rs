//! Where the `set_rank` control puts a coin: the market cap that ranks it at a chosen place in
//! today's ordering. The market then scales the coin's supply to reach that cap (its price stays
//! put, so every provider keeps agreeing on it); as the other coins walk, it may drift a place or
//! two, as real ranks do.

/// The market cap that ranks a coin at `rank` (1-based) when the other listed coins have
/// `others` (largest first): the geometric middle of the caps now at `rank - 1` and `rank`, or
/// 25% beyond the ends of the list (a rank past the end is the last). `None` when there is no
/// other coin to rank against.
pub(super) fn cap_for_rank(others: &[f64], rank: u64) -> Option<f64> {
    // Past the end is the end.
    let r = usize::try_from(rank)
        .unwrap_or(usize::MAX)
        .clamp(1, others.len() + 1);
    let above = r.checked_sub(2).and_then(|i| others.get(i)).copied();
    let below = others.get(r - 1).copied();
    match (above, below) {
        (Some(a), Some(b)) => Some((a * b).sqrt()),
        (None, Some(b)) => Some(b * 1.25),
        (Some(a), None) => Some(a / 1.25),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_sits_between_its_neighbours() {
        let others = [1000.0, 100.0, 10.0];
        assert_eq!(cap_for_rank(&others, 1), Some(1250.0));
        let second = cap_for_rank(&others, 2).unwrap();
        assert!(100.0 < second && second < 1000.0);
        let third = cap_for_rank(&others, 3).unwrap();
        assert!(10.0 < third && third < 100.0);
        assert_eq!(cap_for_rank(&others, 4), Some(8.0));
        assert_eq!(cap_for_rank(&others, 99), Some(8.0));
        assert_eq!(cap_for_rank(&[], 1), None);
    }
}
