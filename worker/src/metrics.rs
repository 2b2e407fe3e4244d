//! Every metric the worker records: the names and labels live here alone.

use agensium_ports::Finish;
use std::time::Duration;

/// Ticket taken → `process` entered (loading, instantiating, the row's start).
pub const JOB_SETUP_SECONDS: &str = "agensium_job_setup_seconds";
/// `process` returned → job row final (output flush, log upload, the row's finish).
pub const JOB_FINISH_SECONDS: &str = "agensium_job_finish_seconds";
/// Ticket taken → job row final.
pub const JOB_SECONDS: &str = "agensium_job_seconds";
/// Jobs that reached a final state here, by `status`.
pub const JOBS_TOTAL: &str = "agensium_jobs_total";
/// Attempts handed back because the infrastructure failed.
pub const JOBS_HANDED_BACK_TOTAL: &str = "agensium_jobs_handed_back_total";
/// Starts given back because the job's team was at its running quota.
pub const JOBS_THROTTLED_TOTAL: &str = "agensium_jobs_throttled_total";

/// Records the host's setup time of one attempt.
pub(crate) fn setup(d: Duration) {
    metrics::histogram!(JOB_SETUP_SECONDS).record(d.as_secs_f64());
}

/// Records the host's finishing time of one attempt.
pub(crate) fn finishing(d: Duration) {
    metrics::histogram!(JOB_FINISH_SECONDS).record(d.as_secs_f64());
}

/// Records a job that this worker finished: its time and its outcome.
pub(crate) fn finished(total: Duration, finish: &Finish) {
    metrics::histogram!(JOB_SECONDS).record(total.as_secs_f64());
    let status = match finish {
        Finish::Succeeded { .. } => "succeeded",
        Finish::Failed(_) => "failed",
    };
    metrics::counter!(JOBS_TOTAL, "status" => status).increment(1);
}

/// Counts a start given back for the team's running quota.
pub(crate) fn throttled() {
    metrics::counter!(JOBS_THROTTLED_TOTAL).increment(1);
}

/// Counts an attempt handed back.
pub(crate) fn handed_back() {
    metrics::counter!(JOBS_HANDED_BACK_TOTAL).increment(1);
}
