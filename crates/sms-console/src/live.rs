//! `GET /console/live`: the signed-in viewer's live changes, as server-sent events.
//!
//! Each event names only a chat (`{"chat": 12}`) the viewer may see; the page then reads what
//! changed through its own, scoped, pages. `resync` asks the page to read everything again
//! (changes may have been missed while the feed was away); `ping` every 15 seconds keeps the
//! connection open through proxies and lets the page notice a feed gone silent. A browser that
//! reconnects reads its page again first, so nothing is missed across a drop.

use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use sms_service::live::Seen;
use sms_service::Service;
use tokio::sync::broadcast::error::RecvError;

use crate::session::{self, PageResult};

const HEARTBEAT: Duration = Duration::from_secs(15);
/// How long a browser waits before it reconnects.
const RETRY_MS: u32 = 2000;

pub async fn events(req: HttpRequest, state: web::Data<Service>) -> PageResult {
    let Some(viewer) = session::viewer(&req, &state).await? else {
        return Ok(HttpResponse::Unauthorized().content_type("text/html; charset=utf-8").body("signed out"));
    };
    let viewing = state.watch_live();
    let first = Bytes::from(format!("retry: {RETRY_MS}\nevent: ready\ndata: {{}}\n\n"));
    let stream = stream::unfold((Some(first), viewing, viewer), |(pending, mut viewing, viewer)| async move {
        if let Some(first) = pending {
            return Some((Ok::<_, actix_web::Error>(first), (None, viewing, viewer)));
        }
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(HEARTBEAT, viewing.receiver.recv()) => next,
                // The instance is shutting down: end the stream, the browser reconnects elsewhere.
                _ = viewing.closing.wait_for(|closing| *closing) => return None,
            };
            let chunk = match next {
                Err(_) => Bytes::from_static(b"event: ping\ndata: {}\n\n"),
                Ok(Err(RecvError::Closed)) => return None,
                Ok(Err(RecvError::Lagged(_))) | Ok(Ok(Seen::Resync)) => {
                    Bytes::from_static(b"event: resync\ndata: {}\n\n")
                }
                Ok(Ok(Seen::Changed(changes))) => {
                    let mine: Vec<String> = changes
                        .iter()
                        .filter(|c| viewer.hears(c))
                        .map(|c| match c.chat {
                            Some(chat) => format!("event: change\ndata: {{\"chat\":{chat}}}\n\n"),
                            None => "event: change\ndata: {}\n\n".to_owned(),
                        })
                        .collect();
                    if mine.is_empty() {
                        continue;
                    }
                    Bytes::from(mine.concat())
                }
            };
            return Some((Ok(chunk), (None, viewing, viewer)));
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}
