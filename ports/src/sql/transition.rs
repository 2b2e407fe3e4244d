//! Each job transition as one compare-and-set `UPDATE`, its `WHERE` clause
//! built from the domain's [`Transition`] table.

use super::{SqlValue, Statement};
use agensium_domain::{JobId, JobStatus, LeaseGuard, Transition, WorkerId, now_to_the_millisecond};

/// `UPDATE jobs SET status = <t.to()>, <set> WHERE [id = ? AND] <guard of t>`,
/// with `values` bound to `set`'s placeholders. `owner` is the lease
/// holder, for the transitions that need one.
///
/// # Panics
/// When `t` needs a lease holder and `owner` is `None` (a programming error).
pub fn update(
    t: Transition,
    set: &str,
    mut values: Vec<SqlValue>,
    id: Option<JobId>,
    owner: Option<&WorkerId>,
) -> Statement {
    let mut clauses = Vec::new();
    if let Some(id) = id {
        clauses.push("id = ?".to_owned());
        values.push(id.to_string().into());
    }
    clauses.push(guard(t, owner, &mut values));
    let to = t.to().as_str();
    Statement::new(
        format!(
            "UPDATE jobs SET status = '{to}', {set} WHERE {}",
            clauses.join(" AND ")
        ),
        values,
    )
}

/// The part of the `WHERE` clause that says which jobs `t` may change.
fn guard(t: Transition, owner: Option<&WorkerId>, values: &mut Vec<SqlValue>) -> String {
    let from = statuses(t.from());
    match t.guard() {
        LeaseGuard::Any => from,
        LeaseGuard::Holder => {
            let owner = owner.expect("a lease holder's transition names its holder");
            values.push(owner.as_str().into());
            format!("{from} AND worker = ?")
        }
        LeaseGuard::Lapsed => {
            values.push(now_to_the_millisecond().timestamp_millis().into());
            format!("{from} AND lease_until < ?")
        }
        LeaseGuard::QueuedOrLapsed => {
            values.push(now_to_the_millisecond().timestamp_millis().into());
            let (queued, running) = (JobStatus::Queued, JobStatus::Running);
            format!("(status = '{queued}' OR (status = '{running}' AND lease_until < ?))")
        }
    }
}

/// `status IN ('a', 'b')`: the names are the domain's constants, never input.
fn statuses(from: &[JobStatus]) -> String {
    let names: Vec<String> = from.iter().map(|s| format!("'{s}'")).collect();
    format!("status IN ({})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_transition_states_its_guard() {
        let id = JobId::new();
        let w = WorkerId::from("w-0");
        let st = update(
            Transition::Succeed,
            "x = ?",
            vec![1i64.into()],
            Some(id),
            Some(&w),
        );
        assert_eq!(
            st.sql,
            "UPDATE jobs SET status = 'succeeded', x = ? WHERE id = ? AND status IN ('running') AND worker = ?"
        );
        assert_eq!(st.params.len(), 3);
        let st = update(Transition::Retry, "y = NULL", vec![], Some(id), None);
        assert!(
            st.sql.ends_with("status IN ('failed', 'cancelled')"),
            "{}",
            st.sql
        );
        let st = update(Transition::Start, "z = 1", vec![], Some(id), None);
        assert!(
            st.sql
                .contains("(status = 'queued' OR (status = 'running' AND lease_until < ?))")
        );
        assert_eq!(st.params.len(), 2);
    }
}
