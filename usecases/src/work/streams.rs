//! A job's bytes: its input (inline or from the object store) and where an
//! attempt's output goes.

use super::Shift;
use agensium_domain::Job;
use agensium_ports::object_store::{Small, once, read_small};
use agensium_ports::segments::Segments;
use agensium_ports::{ByteStream, StoreError};
use bytes::Bytes;

impl Shift {
    /// The job's input: `inline` when the row kept it, else streamed from
    /// the object store.
    pub async fn input(&self, job: &Job, inline: Option<Bytes>) -> Result<ByteStream, StoreError> {
        match inline {
            Some(bytes) => Ok(once(bytes)),
            None => {
                Segments::input_of(self.backends.objects.clone(), job.id)
                    .read_or_whole(job.input_bytes)
                    .await
            }
        }
    }

    /// Where the job's current attempt stores its output.
    pub fn output(&self, job: &Job) -> Output {
        Output {
            segments: Segments::output_of(self.backends.objects.clone(), job.id, job.attempts),
            inline: self.inline,
        }
    }
}

/// An attempt's output, before it is written.
pub struct Output {
    segments: Segments,
    inline: agensium_domain::InlineLimit,
}

impl Output {
    /// Keeps a small output (returned) or stores a larger one as segments,
    /// readable while they are written: its size, and its bytes when kept.
    pub async fn store(self, body: ByteStream) -> Result<(u64, Option<Bytes>), StoreError> {
        match read_small(body, self.inline)
            .await
            .map_err(StoreError::Body)?
        {
            Small::Whole(b) => Ok((b.len() as u64, Some(b))),
            Small::Large(body) => Ok((self.segments.put(body).await?, None)),
        }
    }
}
