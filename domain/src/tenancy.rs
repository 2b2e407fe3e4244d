//! Who may do what: teams, their quotas, API keys, roles, processor
//! ownership and the caller a request acts as.

mod api_key;
mod authorize;
mod caller;
mod role;
mod team;
mod usage;

pub use api_key::{ApiKey, KeyHash, KeyId, KeyRecord, KeyRefusal, MAX_KEY_NAME};
pub use authorize::{Action, Denied, Resource, authorize, operates, scope, sees_team};
pub use caller::Caller;
pub use role::Role;
pub use team::{Ownership, Quota, Team, Visibility};
pub use usage::{DayUsage, Outcomes, UsageReport};
