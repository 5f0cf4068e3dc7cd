//! `coinbeat-sim`: an independent simulator of the upstream APIs' wire formats. Depends on nothing of ours. Filled by the price pipeline issue.
