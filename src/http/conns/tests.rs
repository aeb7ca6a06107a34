//! Unit tests of `conns`.

use super::*;

fn limits(max: usize) -> Limits {
    Limits {
        max_connections: max,
        idle_timeout: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn at_the_cap_the_longest_idle_connection_is_closed_and_busy_ones_are_not() {
    let reg = Connections::new(limits(2));
    let busy = reg.register(reg.reserve().await);
    let _request = busy.conn().begin();
    let idle = reg.register(reg.reserve().await);
    assert_eq!(reg.len(), 2);
    let waiting = {
        let reg = reg.clone();
        tokio::spawn(async move { reg.reserve().await })
    };
    // The idle one is told to close; the busy one is not.
    tokio::time::timeout(Duration::from_secs(5), idle.conn().closing())
        .await
        .unwrap();
    drop(idle);
    let permit = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    let newcomer = reg.register(permit);
    assert_eq!(reg.len(), 2);
    let told = tokio::time::timeout(Duration::from_millis(50), busy.conn().closing()).await;
    assert!(told.is_err(), "a busy connection must not be shed");
    drop(newcomer);
}

// A request waiting for a body that never comes counted as busy, so a
// crowd of them at the cap kept every newcomer out.
#[tokio::test]
async fn a_connection_whose_requests_wait_for_their_bodies_is_shed_at_the_cap() {
    let reg = Connections::new(limits(1));
    let holder = reg.register(reg.reserve().await);
    let _request = holder.conn().begin();
    let waiting = holder.conn().awaiting_body();
    assert!(!holder.conn().is_busy());
    let newcomer = {
        let reg = reg.clone();
        tokio::spawn(async move { reg.reserve().await })
    };
    tokio::time::timeout(Duration::from_secs(5), holder.conn().closing())
        .await
        .unwrap();
    drop(waiting);
    assert!(
        holder.conn().is_busy(),
        "with its body read, it is busy again"
    );
    drop(_request);
    drop(holder);
    let _place = tokio::time::timeout(Duration::from_secs(5), newcomer)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn idle_connections_close_after_the_timeout_and_active_ones_do_not() {
    let reg = Connections::new(limits(8));
    let quiet = reg.register(reg.reserve().await);
    let chatty = reg.register(reg.reserve().await);
    let started = Instant::now();
    let told = async {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(chatty.conn().begin());
            reg.sweep();
        }
    };
    tokio::select! {
        () = quiet.conn().closing() => {}
        _ = told => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => panic!("idle connection never closed"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    let told = tokio::time::timeout(Duration::from_millis(50), chatty.conn().closing()).await;
    assert!(told.is_err(), "a connection with requests must stay open");
}

#[tokio::test]
async fn drained_waits_for_every_slot() {
    let reg = Connections::new(limits(4));
    let slot = reg.register(reg.reserve().await);
    reg.close_all();
    let waiter = {
        let reg = reg.clone();
        tokio::spawn(async move { reg.drained().await })
    };
    slot.conn().closing().await;
    assert!(!waiter.is_finished());
    drop(slot);
    tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .unwrap()
        .unwrap();
    assert!(reg.is_empty());
}
