//! One API and three worker OS processes on MySQL, Redis and S3.

use agensium_tests::procs::{Proc, SharedBackends, free_port, wait_healthy};
use agensium_tests::{Client, plugin};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The input of job `i` and the word count it must give.
fn input(i: usize) -> (String, u64) {
    let words = 1 + i % 13;
    (format!("job-{i} ").repeat(words), words as u64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_jobs_over_three_worker_processes() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let workers: Vec<Proc> = (0..3)
        .map(|i| {
            Proc::spawn(
                &format!("worker {i}"),
                &["worker", "--concurrency", "2"],
                &be.env,
                &[],
            )
        })
        .collect();
    let pids: HashSet<String> = workers.iter().map(|w| format!("-{}-", w.pid())).collect();

    let api = Client::new(&url);
    let r = api
        .register("wordcount", "1.0.0", plugin("wordcount"))
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);

    let ids: Vec<(String, u64)> = futures::stream::iter(0..500)
        .map(|i| {
            let api = api.clone();
            async move {
                let (text, words) = input(i);
                (api.submit_ok("wordcount", "", text).await, words)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;

    let mut by_worker: HashMap<String, usize> = HashMap::new();
    let results: Vec<(Value, Value, u64)> = futures::stream::iter(ids)
        .map(|(id, words)| {
            let api = api.clone();
            async move {
                let job = api.wait(&id).await;
                let (_, out) = api.result(&id).await;
                (job, serde_json::from_slice(&out).unwrap(), words)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for (job, out, words) in &results {
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "ran once: {job}");
        assert_eq!(out["words"], *words, "{job}");
        let worker = job["worker"].as_str().unwrap();
        let pid = pids
            .iter()
            .find(|p| worker.contains(p.as_str()))
            .unwrap_or_else(|| panic!("unknown worker {worker}"));
        *by_worker.entry(pid.clone()).or_default() += 1;
    }
    assert_eq!(results.len(), 500);
    assert_eq!(
        by_worker.len(),
        3,
        "every worker process ran jobs: {by_worker:?}"
    );
    eprintln!("jobs per worker process: {by_worker:?}");
    for w in workers {
        w.terminate(Duration::from_secs(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_losing_everything_loses_no_job() {
    let Some(be) = SharedBackends::fresh().await else {
        return;
    };
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _api = Proc::spawn("api", &["api", "--listen", &listen], &be.env, &[]);
    let url = format!("http://{listen}");
    wait_healthy(&url).await;
    let api = Client::new(&url);
    api.register("wordcount", "1.0.0", plugin("wordcount"))
        .await;

    // Accept 150 jobs with no worker running, then lose every key Redis had.
    let mut ids = Vec::new();
    for i in 0..150 {
        let (text, words) = input(i);
        ids.push((api.submit_ok("wordcount", "", text).await, words));
    }
    let client = redis::Client::open(be.redis_url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", be.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!keys.is_empty());
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();

    // Workers start, and Redis loses everything again mid-run.
    let workers: Vec<Proc> = (0..2)
        .map(|i| {
            Proc::spawn(
                &format!("worker {i}"),
                &["worker", "--concurrency", "2"],
                &be.env,
                &[],
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", be.redis_prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    for (id, words) in &ids {
        let job = api.wait(id).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(job["attempts"], 1, "no job runs twice: {job}");
        let (_, out) = api.result(id).await;
        assert_eq!(
            serde_json::from_slice::<Value>(&out).unwrap()["words"],
            *words
        );
    }
    for w in workers {
        w.terminate(Duration::from_secs(20));
    }
}
