//! The column lists and the one mapping between rows and domain types.

use super::{SqlRow, SqlValue};
use crate::meta::MetaError;
use agensium_domain::{Callback, Job, JobError, ProcessorVersion, WorkerId, from_millis};

/// The columns of `processor_versions`, in the order of [`version_from_row`].
pub const VERSION_COLUMNS: &str =
    "name, version, digest, size, created_at, limits, uploaded_by, inline_safe, yanked_at";

/// The columns of `jobs`, in the order of [`job_from_row`] and [`job_values`].
pub const JOB_COLUMNS: &str = "id, processor, version, digest, status, params, error_code, \
    error_message, attempts, input_bytes, output_bytes, content_type, stats, created_at, \
    started_at, finished_at, worker, `usage`, limits, attempt_base, team, key_id, \
    callback_url, callback_state, callback_attempts, callback_last, callback_at, trace_parent";

/// A row's values, read by column index; every decoding failure is
/// [`MetaError::Corrupt`], never "unavailable".
pub(super) struct Cols(pub SqlRow);

pub(super) fn corrupt_at(what: impl std::fmt::Display) -> MetaError {
    corrupt(what)
}

fn corrupt(what: impl std::fmt::Display) -> MetaError {
    MetaError::Corrupt(what.to_string())
}

impl Cols {
    fn get(&self, i: usize) -> Result<&SqlValue, MetaError> {
        self.0
            .get(i)
            .ok_or_else(|| corrupt(format!("missing column {i}")))
    }

    pub(super) fn opt_text(&self, i: usize) -> Result<Option<String>, MetaError> {
        match self.get(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Text(s) => Ok(Some(s.clone())),
            SqlValue::Int(v) => Ok(Some(v.to_string())),
            SqlValue::Blob(b) => String::from_utf8(b.to_vec())
                .map(Some)
                .map_err(|_| corrupt(format!("column {i} is not UTF-8"))),
        }
    }

    /// Bytes of a `BLOB` column (a driver may hand them over as text).
    pub(super) fn opt_blob(&self, i: usize) -> Result<Option<bytes::Bytes>, MetaError> {
        match self.get(i)? {
            SqlValue::Null => Ok(None),
            SqlValue::Blob(b) => Ok(Some(b.clone())),
            SqlValue::Text(s) => Ok(Some(bytes::Bytes::copy_from_slice(s.as_bytes()))),
            SqlValue::Int(_) => Err(corrupt(format!("column {i} is an integer, not bytes"))),
        }
    }

    pub(super) fn text(&self, i: usize) -> Result<String, MetaError> {
        self.opt_text(i)?
            .ok_or_else(|| corrupt(format!("column {i} is NULL")))
    }

    pub(super) fn opt_int<T: TryFrom<i64>>(&self, i: usize) -> Result<Option<T>, MetaError> {
        let v = match self.get(i)? {
            SqlValue::Null => return Ok(None),
            SqlValue::Int(v) => *v,
            SqlValue::Text(s) => s
                .parse()
                .map_err(|_| corrupt(format!("column {i}: {s:?} is no integer")))?,
            SqlValue::Blob(_) => {
                return Err(corrupt(format!("column {i} is bytes, not an integer")));
            }
        };
        T::try_from(v)
            .map(Some)
            .map_err(|_| corrupt(format!("column {i}: {v} is out of range")))
    }

    pub(super) fn int<T: TryFrom<i64>>(&self, i: usize) -> Result<T, MetaError> {
        self.opt_int(i)?
            .ok_or_else(|| corrupt(format!("column {i} is NULL")))
    }

    pub(super) fn parse<T: std::str::FromStr>(&self, i: usize) -> Result<T, MetaError>
    where
        T::Err: std::fmt::Display,
    {
        self.text(i)?
            .parse()
            .map_err(|e: T::Err| corrupt(format!("column {i}: {e}")))
    }

    pub(super) fn json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<T, MetaError> {
        serde_json::from_str(&self.text(i)?).map_err(|e| corrupt(format!("column {i}: {e}")))
    }

    fn opt_json<T: serde::de::DeserializeOwned>(&self, i: usize) -> Result<Option<T>, MetaError> {
        match self.opt_text(i)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| corrupt(format!("column {i}: {e}"))),
        }
    }
}

/// JSON for a column.
pub(super) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, MetaError> {
    serde_json::to_string(v).map_err(|e| MetaError::Corrupt(format!("encoding a column: {e}")))
}

/// A version from a row of [`VERSION_COLUMNS`].
pub fn version_from_row(r: SqlRow) -> Result<ProcessorVersion, MetaError> {
    let r = Cols(r);
    Ok(ProcessorVersion {
        name: r.parse(0)?,
        version: r.text(1)?,
        digest: r.parse(2)?,
        size: r.int(3)?,
        created_at: from_millis(r.int(4)?),
        limits: r.json(5)?,
        uploaded_by: r
            .opt_text(6)?
            .map(|k| k.parse())
            .transpose()
            .map_err(corrupt)?,
        inline_safe: r.int::<i64>(7)? != 0,
        yanked_at: r.opt_int(8)?.map(from_millis),
    })
}

/// The values of [`VERSION_COLUMNS`] for `v`.
pub(super) fn version_values(v: &ProcessorVersion) -> Result<Vec<SqlValue>, MetaError> {
    Ok(vec![
        v.name.as_str().into(),
        v.version.clone().into(),
        v.digest.as_str().into(),
        v.size.into(),
        v.created_at.timestamp_millis().into(),
        to_json(&v.limits)?.into(),
        v.uploaded_by.as_ref().map(|k| k.as_str().to_owned()).into(),
        i64::from(v.inline_safe).into(),
        v.yanked_at.map(|t| t.timestamp_millis()).into(),
    ])
}

/// A job from a row of [`JOB_COLUMNS`].
pub fn job_from_row(r: SqlRow) -> Result<Job, MetaError> {
    let r = Cols(r);
    let error = match r.opt_text(6)? {
        // Writers store only codes that parse; should one not, the row
        // stays readable and says the processor failed.
        Some(code) => Some(JobError::new(
            code.parse()
                .unwrap_or(agensium_domain::ErrorCode::ProcessorError),
            r.opt_text(7)?.unwrap_or_default(),
        )),
        None => None,
    };
    Ok(Job {
        id: r.parse(0)?,
        processor: r.parse(1)?,
        version: r.text(2)?,
        digest: r.parse(3)?,
        status: r.parse(4)?,
        params: r.json(5)?,
        error,
        attempts: r.int(8)?,
        input_bytes: r.int(9)?,
        output_bytes: r.opt_int(10)?,
        content_type: r.opt_text(11)?,
        stats: r.json(12)?,
        created_at: from_millis(r.int(13)?),
        started_at: r.opt_int(14)?.map(from_millis),
        finished_at: r.opt_int(15)?.map(from_millis),
        worker: r.opt_text(16)?.map(WorkerId::new),
        usage: r.opt_json(17)?,
        limits: r.json(18)?,
        attempt_base: r.int(19)?,
        team: r.parse(20)?,
        key_id: r
            .opt_text(21)?
            .map(|k| k.parse())
            .transpose()
            .map_err(corrupt)?,
        callback: callback_from_row(&r)?,
        // Written only from a checked value; one that no longer parses
        // costs the trace, not the job.
        trace_parent: r.opt_text(27)?.and_then(|t| t.parse().ok()),
    })
}

fn callback_from_row(r: &Cols) -> Result<Option<Callback>, MetaError> {
    let Some(url) = r.opt_text(22)? else {
        return Ok(None);
    };
    Ok(Some(Callback {
        url: url.parse().map_err(corrupt)?,
        state: r.parse(23)?,
        attempts: r.int(24)?,
        last_outcome: r.opt_text(25)?,
        last_attempt_at: r.opt_int(26)?.map(from_millis),
    }))
}

/// The values of [`JOB_COLUMNS`] for `j`.
pub fn job_values(j: &Job) -> Result<Vec<SqlValue>, MetaError> {
    let c = j.callback.as_ref();
    Ok(vec![
        j.id.to_string().into(),
        j.processor.as_str().into(),
        j.version.clone().into(),
        j.digest.as_str().into(),
        j.status.as_str().into(),
        to_json(&j.params)?.into(),
        j.error.as_ref().map(|e| e.code.as_str().to_owned()).into(),
        j.error.as_ref().map(|e| e.message.clone()).into(),
        j.attempts.into(),
        j.input_bytes.into(),
        j.output_bytes.into(),
        j.content_type.clone().into(),
        to_json(&j.stats)?.into(),
        j.created_at.timestamp_millis().into(),
        j.started_at.map(|t| t.timestamp_millis()).into(),
        j.finished_at.map(|t| t.timestamp_millis()).into(),
        j.worker.as_ref().map(|w| w.as_str().to_owned()).into(),
        j.usage.as_ref().map(to_json).transpose()?.into(),
        to_json(&j.limits)?.into(),
        j.attempt_base.into(),
        j.team.as_str().into(),
        j.key_id.as_ref().map(|k| k.as_str().to_owned()).into(),
        c.map(|c| c.url.as_str().to_owned()).into(),
        c.map(|c| c.state.as_str().to_owned()).into(),
        c.map_or(0, |c| c.attempts).into(),
        c.and_then(|c| c.last_outcome.clone()).into(),
        c.and_then(|c| c.last_attempt_at)
            .map(|t| t.timestamp_millis())
            .into(),
        j.trace_parent
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .into(),
    ])
}
