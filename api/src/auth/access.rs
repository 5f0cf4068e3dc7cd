//! What a route needs from its caller.

use coinbeat_shared::settings::Role;

/// Who may call a route; every route of the router has one (`routes::table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, always: `/healthz`, `/readyz`, `/metrics`.
    Public,
    /// Reads: anyone while `api.auth.public_reads` is on (the default), else `read`.
    Read,
    /// Routes that enqueue work: `enqueue`.
    Enqueue,
    /// `/v1/admin/...`: `admin`.
    Admin,
}

impl Access {
    /// The least role a caller needs; `None`: no token needed.
    pub fn required_role(self, public_reads: bool) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Read if public_reads => None,
            Access::Read => Some(Role::Read),
            Access::Enqueue => Some(Role::Enqueue),
            Access::Admin => Some(Role::Admin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_reads_need_a_role_only_when_not_public() {
        assert!(Role::Read < Role::Enqueue && Role::Enqueue < Role::Admin);
        assert_eq!(Access::Read.required_role(true), None);
        assert_eq!(Access::Read.required_role(false), Some(Role::Read));
        assert_eq!(Access::Public.required_role(false), None);
        assert_eq!(Access::Enqueue.required_role(true), Some(Role::Enqueue));
        assert_eq!(Access::Admin.required_role(true), Some(Role::Admin));
    }
}
