//! The bundled Redis's users, tried on a real `redis-server` started with exactly the
//! deployment's arguments (compose's command, or the Kubernetes container's args with their
//! environment expanded), on a socket in a temp dir: nobody gets in without a password, the
//! `coinbeat` user can run what coinbeat sends and none of what only an attacker needs, and
//! KEDA's user can read the queue lengths and nothing else.

use coinbeat_shared::testing::TestRedis;

use crate::manifests::RedisServer;

/// Commands coinbeat sends that sit in Redis's `@dangerous` category or are otherwise easy to
/// deny by mistake: INFO (health worker, metrics), CONFIG GET (maxmemory-policy), MEMORY USAGE
/// and SCAN (cache stats), TIME, scripts, pub/sub.
const NEEDED: &[&[&str]] = &[
    &["PING"],
    &["INFO"],
    &["CONFIG", "GET", "maxmemory-policy"],
    &["MEMORY", "USAGE", "coinbeat:check"],
    &["SCAN", "0", "MATCH", "coinbeat:*", "COUNT", "10"],
    &["TIME"],
    &["SCRIPT", "LOAD", "return 1"],
    &["EVAL", "return redis.call('TIME')[1]", "0"],
    &["PUBLISH", "coinbeat:check", "hello"],
    &["CLIENT", "SETNAME", "coinbeat-check"],
];

/// What only an attacker needs: wiping, reconfiguring, replicating away, persisting to a
/// chosen file, reading every key name, stopping the server. SHUTDOWN last. (DEBUG is denied
/// too, but Redis 7 refuses it to everyone first, `enable-debug-command no`, so it shows
/// nothing here.)
const DENIED: &[&[&str]] = &[
    &["FLUSHALL"],
    &["FLUSHDB"],
    &["CONFIG", "SET", "maxmemory", "1"],
    &["CONFIG", "REWRITE"],
    &["CONFIG", "RESETSTAT"],
    &["MODULE", "LIST"],
    &["ACL", "SETUSER", "intruder", "on", "nopass", "+@all"],
    &["ACL", "LIST"],
    &["REPLICAOF", "NO", "ONE"],
    &["SLAVEOF", "NO", "ONE"],
    &["FAILOVER", "ABORT"],
    &["MIGRATE", "127.0.0.1", "1", "coinbeat:check", "0", "1"],
    &["SAVE"],
    &["BGSAVE"],
    &["BGREWRITEAOF"],
    &["KEYS", "*"],
    &["SHUTDOWN", "NOSAVE"],
];

/// A user and its password.
pub struct Login {
    pub user: String,
    pub password: String,
}

/// Starts `server` and reports what its users allow that they should not, or refuse that they
/// should allow. `coinbeat` is the login of the services' REDIS_URL; `keda`, with the lists it
/// reads, the autoscaler's.
pub fn check(
    server: &RedisServer,
    coinbeat: Option<&Login>,
    keda: Option<(&Login, &[String])>,
    problems: &mut Vec<String>,
) {
    let origin = &server.origin;
    let redis = match TestRedis::start_with(&server.args) {
        Ok(r) => r,
        Err(e) => {
            problems.push(format!("{origin}: {e}"));
            return;
        }
    };
    let connect = || {
        redis::Client::open(redis.url())
            .and_then(|c| c.get_connection())
            .map_err(|e| format!("{origin}: cannot connect: {e}"))
    };

    let mut anonymous = match connect() {
        Ok(c) => c,
        Err(e) => return problems.push(e),
    };
    for command in [&["PING"][..], &["SET", "coinbeat:check", "1"]] {
        if let Some(p) = expect_refused(&mut anonymous, command, "NOAUTH") {
            problems.push(format!("{origin}: without a password, {p}"));
        }
    }

    let Some(login) = coinbeat else {
        problems.push(format!(
            "{origin}: no coinbeat service names a user and password for it in REDIS_URL"
        ));
        return;
    };
    let mut conn = match connect() {
        Ok(c) => c,
        Err(e) => return problems.push(e),
    };
    if let Err(e) = auth(&mut conn, login) {
        problems.push(format!(
            "{origin}: the services' REDIS_URL cannot log in as {}: {e}",
            login.user
        ));
        return;
    }
    let setup: redis::RedisResult<()> = redis::pipe()
        .cmd("SET")
        .arg("coinbeat:check")
        .arg("1")
        .ignore()
        .cmd("RPUSH")
        .arg("coinbeat:check:list")
        .arg("1")
        .ignore()
        .query(&mut conn);
    if let Err(e) = setup {
        problems.push(format!("{origin}: user {} cannot write: {e}", login.user));
    }
    for command in NEEDED {
        if let Err(e) = run(&mut conn, command) {
            problems.push(format!(
                "{origin}: user {} may not run `{}`, which coinbeat sends: {e}",
                login.user,
                command.join(" ")
            ));
        }
    }
    for command in DENIED {
        if let Some(p) = expect_refused(&mut conn, command, "NOPERM") {
            problems.push(format!("{origin}: user {}: {p}", login.user));
        }
    }

    let Some((login, lists)) = keda else {
        return;
    };
    let mut conn = match connect() {
        Ok(c) => c,
        Err(e) => return problems.push(e),
    };
    if let Err(e) = auth(&mut conn, login) {
        problems.push(format!(
            "{origin}: the autoscaler cannot log in as {}: {e}",
            login.user
        ));
        return;
    }
    // What KEDA's redis scaler sends: PING when it connects, then a script that reads the
    // key's TYPE and its length (LLEN for a list or a missing key).
    let length = "local t = redis.call('TYPE', KEYS[1]).ok \
                  if t == 'list' or t == 'none' then return redis.call('LLEN', KEYS[1]) end \
                  return redis.error_reply('ERR not a list: ' .. t)";
    if let Err(e) = run(&mut conn, &["PING"]) {
        problems.push(format!("{origin}: user {} may not PING: {e}", login.user));
    }
    for list in lists {
        if let Err(e) = run(&mut conn, &["EVAL", length, "1", list]) {
            problems.push(format!(
                "{origin}: user {} cannot read the length of {list}: {e}",
                login.user
            ));
        }
        for command in [
            &["LPUSH", list.as_str(), "forged"][..],
            &["DEL", list.as_str()],
            &[
                "EVAL",
                "return redis.call('DEL', KEYS[1])",
                "1",
                list.as_str(),
            ],
        ] {
            if run(&mut conn, command).is_ok() {
                problems.push(format!(
                    "{origin}: user {} may run `{}`",
                    login.user,
                    command.join(" ")
                ));
            }
        }
    }
    for command in [
        &["LLEN", "coinbeat:check:list"][..],
        &["GET", "coinbeat:check"],
        &["FLUSHALL"],
        &["CONFIG", "SET", "maxmemory", "1"],
    ] {
        if run(&mut conn, command).is_ok() {
            problems.push(format!(
                "{origin}: user {} may run `{}`: it should only read the queue lengths",
                login.user,
                command.join(" ")
            ));
        }
    }
}

fn auth(conn: &mut redis::Connection, login: &Login) -> redis::RedisResult<()> {
    redis::cmd("AUTH")
        .arg(&login.user)
        .arg(&login.password)
        .query(conn)
}

fn run(conn: &mut redis::Connection, command: &[&str]) -> redis::RedisResult<redis::Value> {
    redis::cmd(command[0]).arg(&command[1..]).query(conn)
}

/// `None` when Redis refuses `command` with the error `code`; otherwise what happened.
fn expect_refused(conn: &mut redis::Connection, command: &[&str], code: &str) -> Option<String> {
    match run(conn, command) {
        Err(e) if e.code() == Some(code) => None,
        Ok(_) => Some(format!(
            "`{}` is allowed (expected {code})",
            command.join(" ")
        )),
        Err(e) => Some(format!(
            "`{}` fails with {e}, not {code}",
            command.join(" ")
        )),
    }
}
