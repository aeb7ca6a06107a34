//! Criterion bench of one redirect end to end: a keep-alive HTTP/1.1 client
//! on loopback → kurz → 302, with the click counted as usual.

use std::sync::Arc;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use kurz::http::{server, App, Settings};
use kurz::store::{Link, Store};

fn redirect(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop) = rt.block_on(async {
        let store = Store::open(dir.path(), 64 << 20).unwrap();
        for i in 0..1000 {
            let link = Link {
                target: format!("https://example.com/{i}"),
                created_at: 1_700_000_000_000 + i,
                expires_at: None,
                max_clicks: None,
                redirect_status: None,
                created_by: None,
                password: None,
                tags: Vec::new(),
            };
            store.create(&format!("s{i}"), &link).unwrap().unwrap();
        }
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let settings = Settings {
            base_url: kurz::config::default_base(addr),
            api_key: kurz::key::KeyDigest::of(b"bench-key-0123456789"),
            redirect_status: 302,
            slug_length: 7,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server::run(
            listener,
            Arc::new(App::new(store, settings)),
            async move {
                let _ = rx.await;
            },
        ));
        (addr, tx)
    });
    let mut sender = rt.block_on(async {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        sender
    });
    let mut i = 0u32;
    c.bench_function("redirect/keep_alive_302", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 7) % 1000;
            let req = hyper::Request::get(format!("/s{i}"))
                .header("host", "bench")
                .body(Empty::<Bytes>::new())
                .unwrap();
            let fut = sender.send_request(req);
            async move {
                let resp = fut.await.unwrap();
                assert_eq!(resp.status(), 302);
                resp.into_body().collect().await.unwrap();
            }
        })
    });
    let _ = stop.send(());
}

criterion_group!(benches, redirect);
criterion_main!(benches);
