use super::*;
use opsbridge::stripe::{event::RawEvent, ingest, Via};
use std::time::Instant;

#[tokio::test]
async fn zz_profile_ingest() {
    let fake = FakeStripe::start(KEY).await;
    let t = app_for(&fake).await;
    let evs = customers(0..300, t.clock_now().timestamp() - 3600);
    let c = t.db().await;
    let s = Instant::now();
    for _ in 0..200 {
        c.query_one("SELECT 1", &[]).await.unwrap();
    }
    eprintln!("PROFILE select1 {:?}/rt", s.elapsed() / 200);
    drop(c);
    let s = Instant::now();
    for i in 0..200 {
        t.app.kv.set(&format!("x{i}"), "v", 1000).await.unwrap();
    }
    eprintln!("PROFILE redis set {:?}/rt", s.elapsed() / 200);
    let s = Instant::now();
    for e in &evs[..600] {
        let raw = RawEvent::parse(&serde_json::to_vec(e).unwrap()).unwrap();
        ingest(&t.app, &raw, e, Via::Catchup).await.unwrap();
    }
    eprintln!("PROFILE ingest sequential {:?}/event", s.elapsed() / 600);
    let s = Instant::now();
    let b = opsbridge::catchup::batch::ingest_chunk(
        &t.app,
        &evs[600..900],
        Instant::now() + std::time::Duration::from_secs(60),
    )
    .await;
    eprintln!(
        "PROFILE ingest chunk {:?}/event new={}",
        s.elapsed() / 300,
        b.new
    );
}
