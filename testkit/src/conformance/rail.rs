//! Conformance suite of [`Rail`] adapters.

use agensium_domain::{JobId, TeamName, WorkerId};
use agensium_ports::rail::{Rail, Signal};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Runs every check against `rail`, which must start empty.
pub async fn run(rail: &dyn Rail) {
    empty_take_waits(rail).await;
    fifo_ack_release(rail).await;
    one_taker_per_ticket(rail).await;
    lanes_take_turns(rail).await;
    signals_reach_their_subscribers(rail).await;
}

fn lane(name: &str) -> TeamName {
    name.parse().expect("a team name")
}

/// A team with many tickets does not hold back another team's: lanes with
/// tickets are served in turn, also when they were pushed in one batch.
async fn lanes_take_turns(rail: &dyn Rail) {
    let flood: Vec<JobId> = (0..6).map(|_| JobId::new()).collect();
    let quiet: Vec<JobId> = (0..2).map(|_| JobId::new()).collect();
    // One batch over two lanes (how the API pushes coalesced submissions).
    let batch: Vec<(JobId, TeamName)> = flood
        .iter()
        .map(|id| (*id, lane("flood")))
        .chain(quiet.iter().map(|id| (*id, lane("quiet"))))
        .collect();
    rail.push_many(&batch).await.unwrap();
    rail.push_many(&[]).await.unwrap();
    let mut order = Vec::new();
    while let Some(t) = rail
        .take(&"c1".into(), Duration::from_secs(2))
        .await
        .unwrap()
    {
        rail.ack(&t).await.unwrap();
        order.push(t.job_id);
        if order.len() == flood.len() + quiet.len() {
            break;
        }
    }
    assert_eq!(order.len(), 8, "every ticket delivered");
    assert!(
        quiet.iter().all(|q| order[..4].contains(q)),
        "the quiet lane's tickets come within the first turns: {order:?}"
    );
    let flood_order: Vec<&JobId> = order.iter().filter(|id| flood.contains(id)).collect();
    assert_eq!(
        flood_order,
        flood.iter().collect::<Vec<_>>(),
        "first in, first out within a lane"
    );
    assert_eq!(rail.backlog().await.unwrap(), 0);
}

/// Every subscriber of a signal gets its announcements in order, and only
/// those of its signal.
async fn signals_reach_their_subscribers(rail: &dyn Rail) {
    use futures::StreamExt;
    let (a, b, c) = (JobId::new(), JobId::new(), JobId::new());
    let mut first = rail.subscribe(Signal::Cancel).await.unwrap();
    let mut second = rail.subscribe(Signal::Cancel).await.unwrap();
    let mut ends = rail.subscribe(Signal::Finished).await.unwrap();
    rail.announce(Signal::Cancel, a).await.unwrap();
    rail.announce(Signal::Finished, c).await.unwrap();
    rail.announce(Signal::Cancel, b).await.unwrap();
    for s in [&mut first, &mut second] {
        for want in [a, b] {
            let got = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
            assert_eq!(got.expect("announced within 2 s"), Some(want));
        }
    }
    let got = tokio::time::timeout(Duration::from_secs(2), ends.next()).await;
    assert_eq!(got.expect("announced within 2 s"), Some(c));
    let more = tokio::time::timeout(Duration::from_millis(200), ends.next()).await;
    assert!(more.is_err(), "a cancel is not a finish: {more:?}");
}

async fn empty_take_waits(rail: &dyn Rail) {
    let t0 = Instant::now();
    assert!(
        rail.take(&"c1".into(), Duration::from_millis(200))
            .await
            .unwrap()
            .is_none()
    );
    assert!(t0.elapsed() >= Duration::from_millis(150), "take must wait");
}

async fn fifo_ack_release(rail: &dyn Rail) {
    let (a, b) = (JobId::new(), JobId::new());
    assert_eq!(rail.backlog().await.unwrap(), 0, "starts empty");
    rail.push(a, &lane("a")).await.unwrap();
    rail.push(b, &lane("a")).await.unwrap();
    assert_eq!(rail.backlog().await.unwrap(), 2);
    let ta = rail
        .take(&"c1".into(), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((ta.job_id, ta.deliveries), (a, 1));
    rail.renew(&ta).await.unwrap();
    assert_eq!(rail.backlog().await.unwrap(), 2, "taken tickets count");
    rail.release(&ta).await.unwrap();
    assert_eq!(
        rail.backlog().await.unwrap(),
        2,
        "released: still one ticket"
    );
    // The released ticket comes again (before or after b: adapters differ).
    let t1 = rail
        .take(&"c1".into(), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    let t2 = rail
        .take(&"c2".into(), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    let (ta2, tb) = if t1.job_id == a { (t1, t2) } else { (t2, t1) };
    assert_eq!(
        (ta2.job_id, ta2.deliveries),
        (a, 2),
        "a released ticket comes again, counted"
    );
    assert_eq!((tb.job_id, tb.deliveries), (b, 1));
    rail.ack(&ta2).await.unwrap();
    assert_eq!(rail.backlog().await.unwrap(), 1);
    rail.ack(&tb).await.unwrap();
    assert_eq!(rail.backlog().await.unwrap(), 0, "acked tickets are gone");
    assert!(
        rail.take(&"c1".into(), Duration::from_millis(100))
            .await
            .unwrap()
            .is_none()
    );
}

/// 200 tickets on 3 lanes, 4 concurrent takers: each ticket delivered
/// exactly once.
async fn one_taker_per_ticket(rail: &dyn Rail) {
    let ids: Vec<JobId> = (0..200).map(|_| JobId::new()).collect();
    let takers = (0..4).map(|i| async move {
        let mut got = Vec::new();
        while let Some(t) = rail
            .take(&WorkerId::new(format!("c{i}")), Duration::from_millis(300))
            .await
            .unwrap()
        {
            rail.ack(&t).await.unwrap();
            got.push(t.job_id);
        }
        got
    });
    let pushes = async {
        let lanes = [lane("x"), lane("y"), lane("z")];
        for (i, id) in ids.iter().enumerate() {
            rail.push(*id, &lanes[i % 3]).await.unwrap();
        }
    };
    let (got, ()) = futures::join!(futures::future::join_all(takers), pushes);
    let all: Vec<JobId> = got.into_iter().flatten().collect();
    assert_eq!(all.len(), ids.len(), "every ticket delivered once");
    assert_eq!(
        all.iter().collect::<HashSet<_>>(),
        ids.iter().collect::<HashSet<_>>()
    );
}
