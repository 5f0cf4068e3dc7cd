//! The Lua scripts of the queue layer, loaded once per process and run with EVALSHA.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($name:ident, $file:literal) => {
        pub(crate) static $name: LazyLock<Script> =
            LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
    };
}

script!(ENQUEUE, "enqueue.lua");
script!(ACK, "ack.lua");
script!(PROMOTE, "promote.lua");
script!(RELEASE, "release.lua");
script!(STATS, "stats.lua");
script!(HISTORY, "history.lua");
script!(PAUSE, "pause.lua");
script!(TASKS_PAGE, "tasks_page.lua");
script!(SEARCH, "search.lua");
script!(SEARCH_PICK, "search_pick.lua");
script!(LOOKUP, "lookup.lua");
script!(PRUNE, "prune.lua");
script!(SWEEP_WORKERS, "sweep_workers.lua");
script!(DEAD_LIST, "dead_list.lua");
script!(DEAD_RETRY, "dead_retry.lua");
script!(DEAD_PURGE, "dead_purge.lua");
script!(PURGE_WAITING, "purge_waiting.lua");
script!(WAITING_TASK, "waiting_task.lua");
script!(WORKERS, "workers.lua");
script!(SWEEP_METADATA, "sweep_metadata.lua");
script!(REGISTER, "register.lua");
script!(HEARTBEAT, "heartbeat.lua");
script!(RECOVER_ORPHANS, "recover_orphans.lua");
script!(FETCH, "fetch.lua");
script!(MIGRATE_LAYOUT, "migrate_layout.lua");
