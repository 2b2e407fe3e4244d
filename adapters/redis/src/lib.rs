//! Rail on Redis Streams: one stream per team (its lane), one consumer
//! group per stream, pending entries as leases, XAUTOCLAIM to take over the
//! tickets of dead workers; lanes take turns.

mod scripts;

use agensium_domain::{JobId, TeamName, WorkerId};
use agensium_ports::rail::{Rail, RailError, Signal, Ticket};
use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::{StreamId, StreamReadReply};
use redis::{AsyncCommands, Client, RedisError};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const GROUP: &str = "workers";
/// Longest single blocking read; `take` loops up to its `wait`. Also how
/// long a new team's first ticket may wait for idle takers to see its lane.
const MAX_BLOCK: Duration = Duration::from_millis(500);
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

/// [`Rail`] on Redis streams `<prefix>:rail:lane:<team>`, one per team,
/// listed in the set `<prefix>:rail:lanes`, each with the consumer group
/// `workers`.
///
/// * `push` is `SADD` of the lane + `XADD` to it; each entry carries the job
///   id and how many times the ticket was delivered before (kept across
///   `release`).
/// * `take` first reclaims entries idle for longer than the lease
///   (`XAUTOCLAIM`), then reads one new entry, trying the lanes in name
///   order starting after the lane this consumer served last (one Lua
///   script, which reads the set of lanes itself: one round trip), so lanes
///   with tickets take turns; when every lane is empty it blocks on all of
///   them (`XREADGROUP … BLOCK`, at most 500 ms at a time, so a blocked
///   taker sees a new team's lane within that), each consumer on its own
///   connection.
/// * `ack` is `XACK` + `XDEL`, sent only after the job's final state is in
///   the metadata store. `renew` resets the entry's idle time (`XCLAIM … JUSTID`).
/// * The key `<prefix>:rail:alive` marks a rail that has not lost its data;
///   [`Rail::claim_rebuild`] re-creates it after Redis lost everything.
pub struct RedisRail {
    client: Client,
    conn: ConnectionManager,
    blocking: tokio::sync::Mutex<HashMap<String, ConnectionManager>>,
    last_reclaim: Mutex<HashMap<String, Instant>>,
    /// The lane each consumer served last.
    served: Mutex<HashMap<String, String>>,
    /// Lanes whose group this process made sure of.
    grouped: Mutex<HashSet<String>>,
    prefix: String,
    lanes_key: String,
    alive: String,
    /// `{prefix}:` of the pub/sub channels, one per [`Signal`].
    channel_prefix: String,
    lease: Duration,
}

fn err(e: RedisError) -> RailError {
    RailError::backend(e)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A receipt names the entry, its consumer and its lane.
fn receipt(id: &str, consumer: &str, lane: &str) -> String {
    format!("{id}\n{consumer}\n{lane}")
}

/// `(entry id, consumer, lane)` of a receipt.
fn split(receipt: &str) -> (&str, &str, &str) {
    let mut it = receipt.splitn(3, '\n');
    (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    )
}

impl RedisRail {
    /// The pub/sub channel of `signal`.
    fn channel(&self, signal: Signal) -> String {
        format!("{}{}", self.channel_prefix, signal.as_str())
    }

    /// Connects and checks the server answers.
    ///
    /// Errors name the server's address, never the URL: its password must
    /// not reach a log or a client.
    pub async fn connect(cfg: RedisRailConfig) -> Result<Self, RailError> {
        let client = Client::open(cfg.url.as_str())
            .map_err(|e| RailError::backend(format!("the Redis URL is not usable: {e}")))?;
        let at = client.get_connection_info().addr().to_string();
        let fail = |e: RedisError| RailError::backend(format!("connecting to Redis at {at}: {e}"));
        let mgr_cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(2);
        let mut conn = tokio::time::timeout(
            Duration::from_secs(10),
            client.get_connection_manager_with_config(mgr_cfg),
        )
        .await
        .map_err(|_| RailError::backend(format!("connecting to Redis at {at}: timed out")))?
        .map_err(fail)?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(fail)?;
        Ok(Self {
            client,
            conn,
            blocking: Default::default(),
            last_reclaim: Default::default(),
            served: Default::default(),
            grouped: Default::default(),
            lanes_key: format!("{}:rail:lanes", cfg.prefix),
            alive: format!("{}:rail:alive", cfg.prefix),
            channel_prefix: format!("{}:", cfg.prefix),
            prefix: cfg.prefix,
            lease: cfg.lease,
        })
    }

    fn lane(&self, team: &TeamName) -> String {
        format!("{}:rail:lane:{team}", self.prefix)
    }

    /// Creates the lane's stream and group unless this process did already.
    async fn ensure_group(&self, lane: &str) -> Result<(), RedisError> {
        if lock(&self.grouped).contains(lane) {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let created: Result<(), RedisError> = c.xgroup_create_mkstream(lane, GROUP, "0").await;
        match created {
            Err(e) if e.code() != Some("BUSYGROUP") => return Err(e),
            _ => {}
        }
        lock(&self.grouped).insert(lane.to_owned());
        Ok(())
    }

    /// Every lane, fresh from Redis, sorted.
    async fn read_lanes(&self) -> Result<Vec<String>, RailError> {
        let mut c = self.conn.clone();
        let mut lanes: Vec<String> = c.smembers(&self.lanes_key).await.map_err(err)?;
        lanes.sort();
        Ok(lanes)
    }

    /// The lane this consumer served last (its next scan starts after it).
    fn last_served(&self, consumer: &str) -> String {
        lock(&self.served)
            .get(consumer)
            .cloned()
            .unwrap_or_default()
    }

    /// Notes the lane of a ticket a consumer takes.
    fn served(&self, consumer: &str, t: Option<Ticket>) -> Option<Ticket> {
        if let Some(t) = &t {
            let (_, _, lane) = split(&t.receipt);
            lock(&self.served).insert(consumer.to_owned(), lane.to_owned());
        }
        t
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

    fn ticket(consumer: &str, found: scripts::Found) -> Result<Option<Ticket>, RailError> {
        let Some((lane, id, job, before, delivered)) = found else {
            return Ok(None);
        };
        Ok(Some(Ticket {
            job_id: job
                .parse()
                .map_err(|e: agensium_domain::InvalidInput| RailError::backend(e.0))?,
            deliveries: before + delivered.max(1),
            receipt: receipt(&id, consumer, &lane),
        }))
    }

    fn reclaim_due(&self, consumer: &str) -> bool {
        let mut last = lock(&self.last_reclaim);
        let now = Instant::now();
        match last.get(consumer) {
            Some(t) if now.duration_since(*t) < RECLAIM_EVERY => false,
            _ => {
                last.insert(consumer.to_owned(), now);
                true
            }
        }
    }

    /// Claims one entry whose lease lapsed, on any lane, if any.
    async fn reclaim(&self, consumer: &str, after: &str) -> Result<Option<Ticket>, RailError> {
        let mut c = self.conn.clone();
        let found: scripts::Found = scripts::RECLAIM_SCRIPT
            .key(&self.lanes_key)
            .arg(GROUP)
            .arg(consumer)
            .arg(after)
            .arg(u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX))
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        let t = Self::ticket(consumer, found)?;
        if let Some(t) = &t {
            tracing::info!(job = %t.job_id, deliveries = t.deliveries, "reclaimed a ticket whose lease lapsed");
        }
        Ok(t)
    }

    /// One new entry from the first lane after `after` (wrapping) that has one.
    async fn scan(&self, consumer: &str, after: &str) -> Result<Option<Ticket>, RailError> {
        let mut c = self.conn.clone();
        let found: scripts::Found = scripts::READ_SCRIPT
            .key(&self.lanes_key)
            .arg(GROUP)
            .arg(consumer)
            .arg(after)
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Self::ticket(consumer, found)
    }

    /// Waits up to `block` for a new entry on any lane. Should several
    /// lanes deliver at once, the first is kept and the others are put back.
    async fn wait_new(
        &self,
        consumer: &str,
        lanes: &[String],
        block: Duration,
    ) -> Result<Option<Ticket>, RailError> {
        let mut c = self.blocking_conn(consumer).await?;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(consumer)
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis().max(1)).unwrap_or(u64::MAX))
            .arg("STREAMS")
            .arg(lanes);
        for _ in lanes {
            cmd.arg(">");
        }
        let reply: Result<Option<StreamReadReply>, RedisError> = cmd.query_async(&mut c).await;
        let keys = match reply {
            Ok(Some(r)) => r.keys,
            Ok(None) => return Ok(None),
            // Redis lost a group (restart, FLUSHALL): re-create them; the
            // reconciler puts the queued jobs back.
            Err(e) if e.code() == Some("NOGROUP") => {
                lock(&self.grouped).clear();
                for lane in lanes {
                    self.ensure_group(lane).await.map_err(err)?;
                }
                return Ok(None);
            }
            Err(e) => return Err(err(e)),
        };
        let mut found = keys
            .into_iter()
            .flat_map(|k| k.ids.into_iter().map(move |e| (k.key.clone(), e)));
        let first = found.next();
        for (lane, extra) in found {
            self.put_back(consumer, &lane, &extra).await?;
        }
        let Some((lane, entry)) = first else {
            return Ok(None);
        };
        Self::ticket(consumer, Some(Self::fields(&lane, &entry)?))
    }

    fn fields(lane: &str, e: &StreamId) -> Result<(String, String, String, u32, u32), RailError> {
        let job: String = e
            .get("job")
            .ok_or_else(|| RailError::backend(format!("entry {} has no job", e.id)))?;
        Ok((
            lane.to_owned(),
            e.id.clone(),
            job,
            e.get("n").unwrap_or(0),
            1,
        ))
    }

    /// Puts an entry read but not taken back on its lane, uncounted.
    async fn put_back(&self, consumer: &str, lane: &str, e: &StreamId) -> Result<(), RailError> {
        let (_, id, job, before, _) = Self::fields(lane, e)?;
        let t = Ticket {
            job_id: job
                .parse()
                .map_err(|e: agensium_domain::InvalidInput| RailError::backend(e.0))?,
            deliveries: before,
            receipt: receipt(&id, consumer, lane),
        };
        self.requeue(&t).await
    }

    /// A new entry for the ticket's job on its lane, with its delivery count,
    /// and the old entry acked and deleted, in one transaction.
    async fn requeue(&self, ticket: &Ticket) -> Result<(), RailError> {
        let (_, _, lane) = split(&ticket.receipt);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XADD")
            .arg(lane)
            .arg("*")
            .arg("job")
            .arg(ticket.job_id.to_string())
            .arg("n")
            .arg(ticket.deliveries)
            .ignore();
        self.finish_entry(pipe, ticket).await
    }

    /// Runs `pipe` followed by XACK + XDEL of the ticket's entry.
    async fn finish_entry(
        &self,
        mut pipe: redis::Pipeline,
        ticket: &Ticket,
    ) -> Result<(), RailError> {
        let (id, _, lane) = split(&ticket.receipt);
        pipe.cmd("XACK").arg(lane).arg(GROUP).arg(id).ignore();
        pipe.cmd("XDEL").arg(lane).arg(id).ignore();
        let mut c = self.conn.clone();
        let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        Ok(())
    }
}

#[async_trait]
impl Rail for RedisRail {
    async fn push(&self, job: JobId, team: &TeamName) -> Result<(), RailError> {
        self.push_many(&[(job, team.clone())]).await
    }

    async fn push_many(&self, tickets: &[(JobId, TeamName)]) -> Result<(), RailError> {
        let mut pipe = redis::pipe();
        let mut lanes = Vec::new();
        for (job, team) in tickets {
            let lane = self.lane(team);
            if !lanes.contains(&lane) {
                self.ensure_group(&lane).await.map_err(err)?;
                pipe.cmd("SADD").arg(&self.lanes_key).arg(&lane).ignore();
                lanes.push(lane.clone());
            }
            pipe.cmd("XADD")
                .arg(&lane)
                .arg("*")
                .arg("job")
                .arg(job.to_string())
                .arg("n")
                .arg(0)
                .ignore();
        }
        if tickets.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let _: () = pipe.query_async(&mut c).await.map_err(err)?;
        Ok(())
    }

    async fn take(&self, consumer: &WorkerId, wait: Duration) -> Result<Option<Ticket>, RailError> {
        let deadline = Instant::now() + wait;
        let consumer = consumer.as_str();
        loop {
            let after = self.last_served(consumer);
            if self.reclaim_due(consumer)
                && let Some(t) = self.reclaim(consumer, &after).await?
            {
                return Ok(self.served(consumer, Some(t)));
            }
            if let Some(t) = self.scan(consumer, &after).await? {
                return Ok(self.served(consumer, Some(t)));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let lanes = self.read_lanes().await?;
            if lanes.is_empty() {
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            } else if let Some(t) = self.wait_new(consumer, &lanes, left.min(MAX_BLOCK)).await? {
                return Ok(self.served(consumer, Some(t)));
            }
        }
    }

    async fn ack(&self, ticket: &Ticket) -> Result<(), RailError> {
        self.finish_entry(redis::pipe(), ticket).await
    }

    async fn renew(&self, ticket: &Ticket) -> Result<(), RailError> {
        let (id, consumer, lane) = split(&ticket.receipt);
        let mut c = self.conn.clone();
        let _: redis::Value = redis::cmd("XCLAIM")
            .arg(lane)
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
        self.requeue(ticket).await
    }

    async fn announce(&self, signal: Signal, job: JobId) -> Result<(), RailError> {
        let mut c = self.conn.clone();
        let _: i64 = c
            .publish(self.channel(signal), job.to_string())
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn subscribe(&self, signal: Signal) -> Result<BoxStream<'static, JobId>, RailError> {
        let mut pubsub =
            tokio::time::timeout(Duration::from_secs(5), self.client.get_async_pubsub())
                .await
                .map_err(|_| RailError::backend("subscribing: timed out"))?
                .map_err(err)?;
        pubsub.subscribe(self.channel(signal)).await.map_err(err)?;
        Ok(Box::pin(pubsub.into_on_message().filter_map(
            |m| async move { m.get_payload::<String>().ok()?.parse().ok() },
        )))
    }

    async fn backlog(&self) -> Result<u64, RailError> {
        // Acked entries are deleted (XACK + XDEL): the lanes hold exactly
        // the waiting and the pending tickets.
        let lanes = self.read_lanes().await?;
        if lanes.is_empty() {
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for lane in &lanes {
            pipe.cmd("XLEN").arg(lane);
        }
        let mut c = self.conn.clone();
        let lens: Vec<u64> = pipe.query_async(&mut c).await.map_err(err)?;
        Ok(lens.iter().sum())
    }

    async fn claim_rebuild(&self) -> Result<bool, RailError> {
        let mut c = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(&self.alive)
            .arg(agensium_domain::now_to_the_millisecond().timestamp_millis())
            .arg("NX")
            .query_async(&mut c)
            .await
            .map_err(err)?;
        if set.is_some() {
            // Groups are made again as lanes get tickets.
            lock(&self.grouped).clear();
        }
        Ok(set.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agensium_testkit::testenv;

    fn team() -> TeamName {
        "t".parse().unwrap()
    }

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
        rail.push(id, &team()).await.unwrap();
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
        rail.push(JobId::new(), &team()).await.unwrap();
        // What FLUSHALL does to this deployment's keys.
        let mut c = rail.conn.clone();
        let lane = rail.lane(&team());
        let _: () = c.del(&[&lane, &rail.lanes_key, &rail.alive]).await.unwrap();
        assert!(
            rail.take(&"w".into(), Duration::from_millis(200))
                .await
                .unwrap()
                .is_none()
        );
        assert!(rail.claim_rebuild().await.unwrap(), "the loss is noticed");
        let id = JobId::new();
        rail.push(id, &team()).await.unwrap();
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
