//! Every metric the worker records: the names and labels live here alone.

use agensium_ports::Finish;
use std::time::Duration;

/// Ticket taken → `process` entered (loading, instantiating, the row's start).
pub const JOB_SETUP_SECONDS: &str = "agensium_job_setup_seconds";
/// `process` returned → job row final (output flush, log upload, the row's finish).
pub const JOB_FINISH_SECONDS: &str = "agensium_job_finish_seconds";
/// Ticket taken → job row final.
pub const JOB_SECONDS: &str = "agensium_job_seconds";
/// Jobs that reached a final state here, by `status` and `code` (the
/// failure's [`agensium_domain::ErrorCode`], `none` for a success; a
/// bounded set).
pub const JOBS_TOTAL: &str = "agensium_jobs_total";
/// Attempts handed back because the infrastructure failed.
pub const JOBS_HANDED_BACK_TOTAL: &str = "agensium_jobs_handed_back_total";
/// Starts given back because the job's team was at its running quota.
pub const JOBS_THROTTLED_TOTAL: &str = "agensium_jobs_throttled_total";
/// Job slots of this worker process.
pub const SLOTS: &str = "agensium_worker_slots";
/// Of them, those running a job now.
pub const SLOTS_BUSY: &str = "agensium_worker_slots_busy";

/// Says how many slots this process has.
/// (The counters without labels start at 0, so that they are there to
/// scrape before their first event.)
pub(crate) fn slots(n: usize) {
    metrics::gauge!(SLOTS).set(n as f64);
    metrics::gauge!(SLOTS_BUSY).set(0.0);
    metrics::counter!(JOBS_HANDED_BACK_TOTAL).increment(0);
    metrics::counter!(JOBS_THROTTLED_TOTAL).increment(0);
}

/// A slot running a job, counted in [`SLOTS_BUSY`] until dropped.
pub(crate) struct Busy;

impl Busy {
    pub(crate) fn new() -> Self {
        metrics::gauge!(SLOTS_BUSY).increment(1.0);
        Self
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        metrics::gauge!(SLOTS_BUSY).decrement(1.0);
    }
}

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
    let (status, code) = match finish {
        Finish::Succeeded { .. } => ("succeeded", "none".to_owned()),
        Finish::Failed(e) => ("failed", code_label(&e.code)),
    };
    metrics::counter!(JOBS_TOTAL, "status" => status, "code" => code).increment(1);
}

/// A failure's code as a label: the host's own codes, and `processor` for
/// every code a processor chose (those are unbounded: a hostile processor
/// must not make series).
fn code_label(code: &agensium_domain::ErrorCode) -> String {
    match code {
        agensium_domain::ErrorCode::Processor(_) => "processor".into(),
        c => c.as_str().to_owned(),
    }
}

/// Counts a start given back for the team's running quota.
pub(crate) fn throttled() {
    metrics::counter!(JOBS_THROTTLED_TOTAL).increment(1);
}

/// Counts an attempt handed back.
pub(crate) fn handed_back() {
    metrics::counter!(JOBS_HANDED_BACK_TOTAL).increment(1);
}
