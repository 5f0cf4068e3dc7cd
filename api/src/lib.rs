//! `coinbeat-api`: the thin axum API over the cache and the queues; never calls an upstream. Filled by the price pipeline issue.
