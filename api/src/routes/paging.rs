//! `?limit=&offset=` of the paged lists (dead letters, a queue's tasks): read as text, so a
//! non-number gets the same 422 as an out-of-range number.

use serde::Deserialize;

use crate::ApiError;

/// The most one page may hold (both lists' bound).
pub const MAX_PAGE: u64 = 1_000;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Tasks per page, 1 to 1000 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
    /// How many to skip (default 0).
    #[param(value_type = Option<i64>, minimum = 0)]
    offset: Option<String>,
}

/// Tasks per page when no `limit` is given.
const DEFAULT_LIMIT: u64 = 50;

impl PageQuery {
    /// (offset, limit): 422 `invalid_limit` or `invalid_offset` for what cannot be one.
    pub fn parse(&self) -> Result<(u64, u64), ApiError> {
        let limit = match self.limit.as_deref() {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.trim().parse::<u64>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
                _ => return Err(ApiError::InvalidLimit(raw.to_owned())),
            },
        };
        let offset = match self.offset.as_deref() {
            None => 0,
            // At most i64::MAX, the most a list index in Redis (and the document's int64) can be.
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|offset| i64::try_from(*offset).is_ok())
                .ok_or_else(|| ApiError::InvalidOffset(raw.to_owned()))?,
        };
        Ok((offset, limit))
    }
}
