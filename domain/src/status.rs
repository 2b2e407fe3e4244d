//! The job status machine.

use crate::InvalidInput;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted and waiting for a worker.
    Queued,
    /// A worker runs it.
    Running,
    /// Finished; the output is available.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobStatus {
    /// The lowercase name used in the API and the databases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// True once the job can change no more.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

impl FromStr for JobStatus {
    type Err = InvalidInput;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "queued" => Self::Queued,
            "running" => Self::Running,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            _ => return Err(InvalidInput(format!("invalid job status {s:?}"))),
        })
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a transition asks of a job's lease, beyond its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseGuard {
    /// Nothing: the status alone decides.
    Any,
    /// The caller holds the job's live lease (it is the job's worker).
    Holder,
    /// The job is `queued`, or `running` under a lease that lapsed (its
    /// worker died).
    QueuedOrLapsed,
    /// The job is `running` under a lease that lapsed.
    Lapsed,
}

/// A change of a job's status. This is the only place that says which
/// status a change starts from and where it leads: the metadata stores
/// build their compare-and-set `WHERE` clauses from [`Transition::from`] and
/// [`Transition::guard`], and the API asks [`JobStatus::apply`] before it
/// answers 409.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transition {
    /// A worker starts an attempt (counting it) under a new lease.
    Start,
    /// The lease holder extends its lease.
    Renew,
    /// The lease holder of a job whose team has a running quota says the
    /// job passed that quota and runs from now: its start time moves to
    /// now, its claim (the order the quota counts by) stays.
    Admit,
    /// The lease holder records success.
    Succeed,
    /// The lease holder records a final failure.
    Fail,
    /// The lease holder hands the job back (shutdown, infrastructure error).
    HandBack,
    /// The lease holder gives back a job it just started because its team
    /// runs as many jobs as its quota allows; the attempt does not count.
    Yield,
    /// A reconciler takes back a job whose worker died.
    Expire,
    /// A restarted single process takes back every running job.
    Recover,
    /// A user cancels a job that has not finished.
    Cancel,
    /// A user starts a new round of attempts of a failed or cancelled job.
    Retry,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 11] = [
        Self::Start,
        Self::Renew,
        Self::Admit,
        Self::Succeed,
        Self::Fail,
        Self::HandBack,
        Self::Yield,
        Self::Expire,
        Self::Recover,
        Self::Cancel,
        Self::Retry,
    ];

    /// The statuses the transition may start from.
    pub const fn from(self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            Self::Start => &[Queued, Running],
            Self::Renew
            | Self::Admit
            | Self::Succeed
            | Self::Fail
            | Self::HandBack
            | Self::Yield => &[Running],
            Self::Expire | Self::Recover => &[Running],
            Self::Cancel => &[Queued, Running],
            Self::Retry => &[Failed, Cancelled],
        }
    }

    /// The status the job has afterwards.
    pub const fn to(self) -> JobStatus {
        match self {
            Self::Start | Self::Renew | Self::Admit => JobStatus::Running,
            Self::Succeed => JobStatus::Succeeded,
            Self::Fail => JobStatus::Failed,
            Self::HandBack | Self::Yield | Self::Expire | Self::Recover | Self::Retry => {
                JobStatus::Queued
            }
            Self::Cancel => JobStatus::Cancelled,
        }
    }

    /// What the transition asks of the lease.
    pub const fn guard(self) -> LeaseGuard {
        match self {
            Self::Start => LeaseGuard::QueuedOrLapsed,
            Self::Renew
            | Self::Admit
            | Self::Succeed
            | Self::Fail
            | Self::HandBack
            | Self::Yield => LeaseGuard::Holder,
            Self::Expire => LeaseGuard::Lapsed,
            Self::Recover | Self::Cancel | Self::Retry => LeaseGuard::Any,
        }
    }

    /// True when the job holds a lease afterwards.
    pub const fn leases(self) -> bool {
        matches!(self, Self::Start | Self::Renew | Self::Admit)
    }

    /// The name used in logs and errors.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Renew => "renew",
            Self::Admit => "admit",
            Self::Succeed => "succeed",
            Self::Fail => "fail",
            Self::HandBack => "hand back",
            Self::Yield => "yield",
            Self::Expire => "expire",
            Self::Recover => "recover",
            Self::Cancel => "cancel",
            Self::Retry => "retry",
        }
    }
}

/// A transition a job's status does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a {from} job", transition.as_str())]
pub struct TransitionError {
    /// The status the job is in.
    pub from: JobStatus,
    /// The transition asked for.
    pub transition: Transition,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 5] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The status after `t`, or why `t` is not allowed from here (the lease
    /// part of [`Transition::guard`] is the store's to check).
    pub fn apply(self, t: Transition) -> Result<JobStatus, TransitionError> {
        if t.from().contains(&self) {
            Ok(t.to())
        } else {
            Err(TransitionError {
                from: self,
                transition: t,
            })
        }
    }

    /// A worker starts an attempt.
    pub fn start(self) -> Result<JobStatus, TransitionError> {
        self.apply(Transition::Start)
    }

    /// The lease holder records success (`true`) or a final failure.
    pub fn finish(self, succeeded: bool) -> Result<JobStatus, TransitionError> {
        self.apply(if succeeded {
            Transition::Succeed
        } else {
            Transition::Fail
        })
    }

    /// A user cancels the job.
    pub fn cancel(self) -> Result<JobStatus, TransitionError> {
        self.apply(Transition::Cancel)
    }

    /// A user runs a failed or cancelled job again.
    pub fn retry(self) -> Result<JobStatus, TransitionError> {
        self.apply(Transition::Retry)
    }

    /// The lease holder hands the job back.
    pub fn hand_back(self) -> Result<JobStatus, TransitionError> {
        self.apply(Transition::HandBack)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(s.as_str().parse::<JobStatus>().unwrap(), s);
        }
        assert!("done".parse::<JobStatus>().is_err());
    }

    #[test]
    fn final_statuses_never_change_except_by_retry() {
        for s in JobStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for t in Transition::ALL {
                assert_eq!(
                    s.apply(t).is_ok(),
                    t == Transition::Retry && s != JobStatus::Succeeded,
                    "{s} {t:?}"
                );
            }
        }
    }

    #[test]
    fn the_machine() {
        use JobStatus::*;
        assert_eq!(Queued.start(), Ok(Running));
        assert_eq!(Running.finish(true), Ok(Succeeded));
        assert_eq!(Running.finish(false), Ok(Failed));
        assert_eq!(Queued.cancel(), Ok(Cancelled));
        assert_eq!(Running.hand_back(), Ok(Queued));
        assert_eq!(Running.apply(Transition::Yield), Ok(Queued));
        assert!(Queued.apply(Transition::Yield).is_err());
        assert_eq!(Running.apply(Transition::Admit), Ok(Running));
        assert!(Queued.apply(Transition::Admit).is_err());
        assert_eq!(Failed.retry(), Ok(Queued));
        assert_eq!(Cancelled.retry(), Ok(Queued));
        assert!(Queued.finish(true).is_err());
        assert!(Succeeded.retry().is_err());
        assert!(Running.retry().is_err());
        let e = Succeeded.cancel().unwrap_err();
        assert_eq!(e.to_string(), "cannot cancel a succeeded job");
    }
}
