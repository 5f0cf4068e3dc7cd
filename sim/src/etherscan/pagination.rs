//! Etherscan's list paging: a block range, `sort` asc|desc, and `page`/`offset` whose product may
//! not pass 10,000 (also the cap of an unpaged request).

use std::collections::HashMap;

/// The most records one list request can reach.
pub(crate) const MAX_WINDOW: u64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    start_block: u64,
    end_block: u64,
    descending: bool,
    page: u64,
    offset: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PagingError {
    /// A parameter is not a number.
    Invalid,
    /// `page * offset > 10000`.
    WindowTooLarge,
}

impl Paging {
    /// Absent or `0` `page` is 1; absent or `0` `offset` means "up to 10,000"; an unknown `sort`
    /// is ascending.
    pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Self, PagingError> {
        let number = |name: &str| -> Result<Option<u64>, PagingError> {
            match params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| PagingError::Invalid),
            }
        };
        let page = number("page")?.filter(|&p| p > 0).unwrap_or(1);
        let offset = number("offset")?.filter(|&o| o > 0).unwrap_or(MAX_WINDOW);
        if page.saturating_mul(offset) > MAX_WINDOW {
            return Err(PagingError::WindowTooLarge);
        }
        Ok(Self {
            start_block: number("startblock")?.unwrap_or(0),
            end_block: number("endblock")?.unwrap_or(u64::MAX),
            descending: params.get("sort").is_some_and(|s| s == "desc"),
            page,
            offset,
        })
    }

    /// The rows of this page, from rows ascending by block.
    pub(crate) fn select<'a, T>(&self, rows: &'a [T], block: impl Fn(&T) -> u64) -> Vec<&'a T> {
        let in_range = rows
            .iter()
            .filter(|row| (self.start_block..=self.end_block).contains(&block(row)));
        let skip = ((self.page - 1) * self.offset) as usize;
        let take = self.offset as usize;
        if self.descending {
            in_range.rev().skip(skip).take(take).collect()
        } else {
            in_range.skip(skip).take(take).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pages_split_the_rows_in_either_order_within_the_block_range() {
        let rows: Vec<u64> = (1..=10).collect();
        let page = |pairs| Paging::parse(&params(pairs)).unwrap().select(&rows, |r| *r);
        assert_eq!(page(&[("page", "2"), ("offset", "3")]), [&4, &5, &6]);
        assert_eq!(
            page(&[("page", "1"), ("offset", "3"), ("sort", "desc")]),
            [&10, &9, &8]
        );
        assert_eq!(page(&[("startblock", "9")]), [&9, &10]);
        assert!(page(&[("page", "5"), ("offset", "3")]).is_empty());
    }

    #[test]
    fn a_window_past_ten_thousand_or_a_non_number_is_refused() {
        let too_large = Paging::parse(&params(&[("page", "11"), ("offset", "1000")]));
        assert_eq!(too_large, Err(PagingError::WindowTooLarge));
        let at_limit = Paging::parse(&params(&[("page", "10"), ("offset", "1000")]));
        assert!(at_limit.is_ok());
        let bad = Paging::parse(&params(&[("page", "x")]));
        assert_eq!(bad, Err(PagingError::Invalid));
    }
}
