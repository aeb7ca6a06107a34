//! Click counts stay exact under concurrent clicks on many links while
//! other links are created and deleted, across flush rounds and folds.

mod common;

use std::sync::Arc;

use common::start_server;
use hyper::Method;

const STABLE: usize = 40;
const CLICKERS: usize = 8;
const CLICKS_EACH: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counts_are_exact_while_links_come_and_go() {
    let s = Arc::new(start_server().await);
    for i in 0..STABLE {
        s.create(&format!(
            r#"{{"url":"https://a.example/{i}","slug":"st{i}"}}"#
        ))
        .await;
    }
    // Churn: links created, clicked and deleted the whole time.
    let churn = {
        let s = s.clone();
        tokio::spawn(async move {
            for round in 0..60 {
                let slug = format!("ch{round}");
                s.create(&format!(
                    r#"{{"url":"https://c.example/{round}","slug":"{slug}"}}"#
                ))
                .await;
                assert_eq!(s.get(&format!("/{slug}")).await.status, 302);
                let r = s
                    .api(Method::DELETE, &format!("/api/links/{slug}"), None)
                    .await;
                assert_eq!(r.status, 204);
                assert_eq!(s.get(&format!("/{slug}")).await.status, 404);
            }
        })
    };
    let clickers: Vec<_> = (0..CLICKERS)
        .map(|c| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut mine = vec![0u64; STABLE];
                let mut x = 0x9e37_79b9_u64 + c as u64;
                for _ in 0..CLICKS_EACH {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let i = (x % STABLE as u64) as usize;
                    assert_eq!(s.get(&format!("/st{i}")).await.status, 302);
                    mine[i] += 1;
                }
                mine
            })
        })
        .collect();
    let mut expected = vec![0u64; STABLE];
    for c in clickers {
        for (e, n) in expected.iter_mut().zip(c.await.unwrap()) {
            *e += n;
        }
    }
    churn.await.unwrap();
    // Read right away (some counts still pending) and again after rounds.
    for pass in 0..2 {
        for (i, want) in expected.iter().enumerate() {
            let j = s
                .api(Method::GET, &format!("/api/links/st{i}"), None)
                .await
                .json();
            assert_eq!(j["clicks"].as_u64(), Some(*want), "st{i}, pass {pass}");
        }
        tokio::time::sleep(kurz::http::server::CLICK_FLUSH_EVERY * 3).await;
    }
    let total: u64 = expected.iter().sum();
    assert_eq!(total, (CLICKERS * CLICKS_EACH) as u64);
    match Arc::try_unwrap(s) {
        Ok(s) => {
            s.stop().await;
        }
        Err(_) => panic!("a task still holds the server"),
    }
}
