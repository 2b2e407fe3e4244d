//! Every end-to-end test, in one test binary (one link, one process to
//! schedule): the real app on a random port, real `agensium` processes, the
//! real MariaDB, Redis and S3 servers.

#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap
)]

mod admission;
mod backlog;
mod cli;
mod code_map;
mod compose;
mod dashboard;
mod faults;
mod follow;
mod hardening;
mod hostile;
mod import_circles;
mod jobs;
mod kubernetes;
mod local_run;
mod multiprocess;
mod observability;
mod openapi;
mod processors;
mod readiness;
mod recovery;
mod retention;
mod retry;
mod security;
mod settings;
mod store_faults;
mod tenancy;
mod traces;
mod webhooks;
