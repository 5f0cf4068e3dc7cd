//! What a route needs from its caller.

use coinbeat_shared::settings::{AuthSettings, Role, StatusRead};

/// Who may call a route; every route of the router has one (`routes::table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, always: `/healthz`, `/readyz`, the API's own documentation.
    Public,
    /// Market reads: anyone while `api.auth.public_reads` is on (the default), else `read`.
    Read,
    /// Operational reads (queues, workers, schedules, health, tasks, metrics): `read`, unless
    /// `api.auth.public_status` names this one.
    Status(StatusRead),
    /// Routes that enqueue work: `enqueue`.
    Enqueue,
    /// `/v1/admin/...`: `admin`.
    Admin,
}

impl Access {
    /// The least role a caller needs; `None`: no token needed.
    pub fn required_role(self, auth: &AuthSettings) -> Option<Role> {
        match self {
            Access::Public => None,
            Access::Read if auth.public_reads => None,
            Access::Status(read) if auth.public_status.contains(&read) => None,
            Access::Read | Access::Status(_) => Some(Role::Read),
            Access::Enqueue => Some(Role::Enqueue),
            Access::Admin => Some(Role::Admin),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_reads_need_a_role_only_when_made_public() {
        let open = AuthSettings {
            public_reads: true,
            public_status: vec![StatusRead::Queues],
            ..AuthSettings::default()
        };
        let closed = AuthSettings {
            public_reads: false,
            ..AuthSettings::default()
        };
        assert!(Role::Read < Role::Enqueue && Role::Enqueue < Role::Admin);
        assert_eq!(Access::Read.required_role(&open), None);
        assert_eq!(Access::Read.required_role(&closed), Some(Role::Read));
        assert_eq!(
            Access::Status(StatusRead::Queues).required_role(&open),
            None
        );
        assert_eq!(
            Access::Status(StatusRead::Workers).required_role(&open),
            Some(Role::Read),
            "public reads do not open the operational reads"
        );
        assert_eq!(
            Access::Status(StatusRead::Queues).required_role(&closed),
            Some(Role::Read)
        );
        assert_eq!(Access::Public.required_role(&closed), None);
        assert_eq!(Access::Enqueue.required_role(&open), Some(Role::Enqueue));
        assert_eq!(Access::Admin.required_role(&open), Some(Role::Admin));
    }
}
