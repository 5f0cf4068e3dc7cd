//! `coinbeat`: the operator CLI (`coinbeat up`, enqueue, task, queues, ...). Filled by the price pipeline issue.
