//! Rail on Redis Streams: one stream, one consumer group, pending entries as
//! leases, XAUTOCLAIM to take over the tickets of dead workers.

use agensium_domain::{JobId, WorkerId};
use agensium_ports::rail::{Rail, RailError, Ticket};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamPendingCountReply, StreamReadReply};
use redis::{AsyncCommands, Client, RedisError};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const GROUP: &str = "workers";
/// Longest single blocking read; `take` loops up to its `wait`.
const MAX_BLOCK: Duration = Duration::from_secs(2);
/// How often one consumer looks for lapsed leases to reclaim.
const RECLAIM_EVERY: Duration = Duration::from_millis(500);

/// Settings of the Redis rail.
#[derive(Debug, Clone)]
pub struct RedisRailConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    /// Prefix of every key, so several deployments (or test runs) can share
    /// one Redis.
    pub prefix: String,
    /// Idle time after which a delivered ticket is considered abandoned and
    /// reclaimed by another worker. Workers renew tickets while jobs run.
    pub lease: Duration,
}

impl RedisRailConfig {
    /// Defaults: prefix `agensium`, lease 30 s.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: "agensium".into(),
            lease: Duration::from_secs(30),
        }
    }
}

/// [`Rail`] on a Redis stream `<prefix>:rail` with consumer group `workers`.
///
/// * `push` is `XADD`; each entry carries the job id and how many times the
///   ticket was delivered before (kept across `release`).
/// * `take` first reclaims entries idle for longer than the lease
///   (`XAUTOCLAIM`), then reads new ones (`XREADGROUP … BLOCK`); each
///   consumer blocks on its own connection.
/// * `ack` is `XACK` + `XDEL`, sent only after the job's final state is in
///   the metadata store. `renew` resets the entry's idle time (`XCLAIM … JUSTID`).
/// * The key `<prefix>:rail:alive` marks a rail that has not lost its data;
///   [`Rail::claim_rebuild`] re-creates it after Redis lost everything.
pub struct RedisRail {
    client: Client,
    conn: ConnectionManager,
    blocking: tokio::sync::Mutex<HashMap<String, ConnectionManager>>,
    last_reclaim: Mutex<HashMap<String, Instant>>,
    stream: String,
    alive: String,
    cancel_channel: String,
    lease: Duration,
}

fn err(e: RedisError) -> RailError {
    RailError::backend(e)
}

impl RedisRail {
    /// Connects, checks the server answers and creates the stream and group
    /// when missing.
    pub async fn connect(cfg: RedisRailConfig) -> Result<Self, RailError> {
        let fail =
            |e: RedisError| RailError::backend(format!("connecting to Redis at {}: {e}", cfg.url));
        let client = Client::open(cfg.url.as_str()).map_err(fail)?;
        let mgr_cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_connection_manager_with_config(mgr_cfg),
        )
        .await
        .map_err(|_| RailError::backend(format!("connecting to Redis at {}: timed out", cfg.url)))?
        .map_err(fail)?;
        let rail = Self {
            client,
            conn,
            blocking: Default::default(),
            last_reclaim: Default::default(),
            stream: format!("{}:rail", cfg.prefix),
            alive: format!("{}:rail:alive", cfg.prefix),
            cancel_channel: format!("{}:cancel", cfg.prefix),
            lease: cfg.lease,
        };
        rail.ensure_group().await.map_err(fail)?;
        Ok(rail)
    }

    async fn ensure_group(&self) -> Result<(), RedisError> {
        let mut c = self.conn.clone();
        let created: Result<(), RedisError> =
            c.xgroup_create_mkstream(&self.stream, GROUP, "0").await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other,
        }
    }

    async fn blocking_conn(&self, consumer: &str) -> Result<ConnectionManager, RailError> {
        let mut map = self.blocking.lock().await;
        if let Some(c) = map.get(consumer) {
            return Ok(c.clone());
        }
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(MAX_BLOCK + Duration::from_secs(5)));
        let c = self
            .client
            .get_connection_manager_with_config(cfg)
            .await
            .map_err(err)?;
        map.insert(consumer.to_owned(), c.clone());
        Ok(c)
    }

    fn ticket(
        &self,
        consumer: &str,
        entry: &StreamId,
        delivered: u32,
    ) -> Result<Ticket, RailError> {
        let job: String = entry
            .get("job")
            .ok_or_else(|| RailError::backend(format!("entry {} has no job", entry.id)))?;
        let before: u32 = entry.get("n").unwrap_or(0);
        Ok(Ticket {
            job_id: job
                .parse()
                .map_err(|e: agensium_domain::InvalidInput| RailError::backend(e.0))?,
            deliveries: before + delivered.max(1),
            receipt: format!("{} {consumer}", entry.id),
        })
    }

    fn reclaim_due(&self, consumer: &str) -> bool {
        let mut last = self.last_reclaim.lock().expect("reclaim lock");
        let now = Instant::now();
        match last.get(consumer) {
            Some(t) if now.duration_since(*t) < RECLAIM_EVERY => false,
            _ => {
                last.insert(consumer.to_owned(), now);
                true
            }
        }
    }

    /// Claims one entry whose lease lapsed, if any.
    async fn reclaim(&self, consumer: &str) -> Result<Option<Ticket>, RedisError> {
        let mut c = self.conn.clone();
        let reply: StreamAutoClaimReply = redis::cmd("XAUTOCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .arg("0-0")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await?;
        let Some(entry) = reply.claimed.into_iter().next() else {
            return Ok(None);
        };
        let pending: StreamPendingCountReply = redis::cmd("XPENDING")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(&entry.id)
            .arg(&entry.id)
            .arg(1)
            .query_async(&mut c)
            .await?;
        let delivered = pending
            .ids
            .first()
            .map_or(1, |p| u32::try_from(p.times_delivered).unwrap_or(u32::MAX));
        tracing::info!(entry = %entry.id, delivered, "reclaimed a ticket whose lease lapsed");
        Ok(self.ticket(consumer, &entry, delivered).ok())
    }

    async fn read_new(&self, consumer: &str, block: Duration) -> Result<Option<Ticket>, RailError> {
        let mut c = self.blocking_conn(consumer).await?;
        let reply: Result<Option<StreamReadReply>, RedisError> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis().max(1)).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(&self.stream)
            .arg(">")
            .query_async(&mut c)
            .await;
        match reply {
            Ok(Some(r)) => match r
                .keys
                .into_iter()
                .next()
                .and_then(|k| k.ids.into_iter().next())
            {
                Some(entry) => self.ticket(consumer, &entry, 1).map(Some),
                None => Ok(None),
            },
            Ok(None) => Ok(None),
            // Redis lost the group (restart, FLUSHALL): re-create it; the
            // reconciler puts the queued jobs back.
            Err(e) if e.code() == Some("NOGROUP") => {
                self.ensure_group().await.map_err(err)?;
                Ok(None)
            }
            Err(e) => Err(err(e)),
        }
    }

    /// Runs `pipe` followed by XACK + XDEL of the ticket's entry.
    async fn finish_entry(
        &self,
        mut pipe: redis::Pipeline,
        ticket: &Ticket,
    ) -> Result<(), RailError> {
        let (id, _) = Self::split(&ticket.receipt);
        pipe.cmd("XACK")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(id)
            .ignore();
        pipe.cmd("XDEL").arg(&self.stream).arg(id).ignore();
        let mut c = self.conn.clone();
        let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        Ok(())
    }

    fn split(receipt: &str) -> (&str, &str) {
        receipt.split_once(' ').unwrap_or((receipt, ""))
    }
}

#[async_trait]
impl Rail for RedisRail {
    async fn push(&self, job: JobId) -> Result<(), RailError> {
        let mut c = self.conn.clone();
        let _: String = c
            .xadd(
                &self.stream,
                "*",
                &[("job", job.to_string()), ("n", "0".into())],
            )
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn take(&self, consumer: &WorkerId, wait: Duration) -> Result<Option<Ticket>, RailError> {
        let deadline = Instant::now() + wait;
        loop {
            if self.reclaim_due(consumer.as_str()) {
                match self.reclaim(consumer.as_str()).await {
                    Ok(Some(t)) => return Ok(Some(t)),
                    Ok(None) => {}
                    Err(e) if e.code() == Some("NOGROUP") => {
                        self.ensure_group().await.map_err(err)?;
                    }
                    Err(e) => return Err(err(e)),
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if let Some(t) = self
                .read_new(consumer.as_str(), left.min(MAX_BLOCK))
                .await?
            {
                return Ok(Some(t));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    async fn ack(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.finish_entry(redis::pipe(), ticket).await
    }

    async fn renew(&self, ticket: &Ticket) -> Result<(), RailError> {
        let (id, consumer) = Self::split(&ticket.receipt);
        let mut c = self.conn.clone();
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(&self.stream)
            .arg(GROUP)
            .arg(consumer)
            .arg(0)
            .arg(id)
            .arg("JUSTID")
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn release(&self, ticket: &Ticket) -> Result<(), RailError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(&self.stream)
            .arg("*")
            .arg("job")
            .arg(ticket.job_id.to_string())
            .arg("n")
            .arg(ticket.deliveries)
            .ignore();
        self.finish_entry(pipe, ticket).await
    }

    async fn announce_cancel(&self, job: JobId) -> Result<(), RailError> {
        let mut c = self.conn.clone();
        let _: i64 = c
            .publish(&self.cancel_channel, job.to_string())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn cancellations(&self) -> Result<BoxStream<'static, JobId>, RailError> {
        let mut pubsub =
            tokio::time::timeout(Duration::from_secs(5), self.client.get_async_pubsub())
                .await
                .map_err(|_| RailError::backend("subscribing: timed out"))?
                .map_err(err)?;
        pubsub.subscribe(&self.cancel_channel).await.map_err(err)?;
        Ok(Box::pin(pubsub.into_on_message().filter_map(
            |m| async move { m.get_payload::<String>().ok()?.parse().ok() },
        )))
    }

    async fn backlog(&self) -> Result<u64, RailError> {
        // Acked entries are deleted (XACK + XDEL): the stream holds exactly
        // the waiting and the pending tickets.
        let mut c = self.conn.clone();
        redis::cmd("XLEN")
            .arg(&self.stream)
            .query_async(&mut c)
            .await
            .map_err(err)
    }

    async fn claim_rebuild(&self) -> Result<bool, RailError> {
        let mut c = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.alive)
            .arg(agensium_domain::now_millis().timestamp_millis())
            .arg("NX")
            .query_async(&mut c)
            .await
            .map_err(err)?;
        if set.is_some() {
            self.ensure_group().await.map_err(err)?;
        }
        Ok(set.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agensium_testkit::testenv;

    async fn rail(lease: Duration) -> Option<RedisRail> {
        let url = testenv::redis().await?;
        let cfg = RedisRailConfig {
            url,
            prefix: format!("agensium-test-{}", testenv::unique()),
            lease,
        };
        Some(RedisRail::connect(cfg).await.unwrap())
    }

    #[tokio::test]
    async fn conformance() {
        let Some(rail) = rail(Duration::from_secs(30)).await else {
            return;
        };
        agensium_testkit::conformance::rail::run(&rail).await;
    }

    #[tokio::test]
    async fn lapsed_leases_are_reclaimed_with_their_delivery_count() {
        let Some(rail) = rail(Duration::from_millis(300)).await else {
            return;
        };
        let id = JobId::new();
        rail.push(id).await.unwrap();
        let first = rail
            .take(&"dead-worker".into(), Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((first.job_id, first.deliveries), (id, 1));
        // Renewed: not reclaimable yet.
        tokio::time::sleep(Duration::from_millis(200)).await;
        rail.renew(&first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            rail.take(&"other".into(), Duration::from_millis(100))
                .await
                .unwrap()
                .is_none()
        );
        // Abandoned: another consumer takes it over.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let again = rail
            .take(&"other".into(), Duration::from_secs(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((again.job_id, again.deliveries), (id, 2));
        rail.ack(&again).await.unwrap();
    }

    #[tokio::test]
    async fn survives_redis_losing_everything() {
        let Some(rail) = rail(Duration::from_secs(30)).await else {
            return;
        };
        assert!(
            rail.claim_rebuild().await.unwrap(),
            "a new rail needs a rebuild"
        );
        assert!(!rail.claim_rebuild().await.unwrap(), "only once");
        rail.push(JobId::new()).await.unwrap();
        // What FLUSHALL does to this deployment's keys.
        let mut c = rail.conn.clone();
        let _: () = c.del(&[&rail.stream, &rail.alive]).await.unwrap();
        assert!(
            rail.take(&"w".into(), Duration::from_millis(200))
                .await
                .unwrap()
                .is_none()
        );
        assert!(rail.claim_rebuild().await.unwrap(), "the loss is noticed");
        let id = JobId::new();
        rail.push(id).await.unwrap();
        assert_eq!(
            rail.take(&"w".into(), Duration::from_secs(1))
                .await
                .unwrap()
                .unwrap()
                .job_id,
            id
        );
    }

    #[tokio::test]
    async fn unreachable_server_is_a_clear_error() {
        let Err(e) = RedisRail::connect(RedisRailConfig::new("redis://127.0.0.1:1")).await else {
            panic!("connected to nothing")
        };
        assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    }
}
