//! `coinbeat-scheduler`, the beat: turns the schedule table into jobs (enqueue only). Filled by the price pipeline issue.
