//! The response body of every handler: bytes in hand, or a stream from a channel.
//!
//! Almost every answer is a few bytes known at once, sent with a
//! `Content-Length` as `http_body_util::Full` would. A large answer made
//! step by step (`GET /api/export`) is fed through a bounded channel by a
//! producer instead, so it goes out chunked in constant memory and the
//! producer waits while the client is slow. A stream that ends without its
//! producer saying [`BodySender::blocking_finish`] is cut short: the body then fails,
//! and hyper ends the connection without the final chunk, so a client can
//! never mistake a partial stream for a whole one.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Frame, SizeHint};
use thiserror::Error;
use tokio::sync::mpsc;

/// Why a streamed body stopped early.
#[derive(Debug, Error)]
#[error("the response body was cut short: its producer stopped before the end")]
pub struct CutShort;

/// What a producer sends: bytes, or the end.
#[derive(Debug)]
enum Msg {
    Data(Bytes),
    End,
}

/// A response body.
#[derive(Debug)]
pub struct Body(Kind);

#[derive(Debug)]
enum Kind {
    /// Everything at once; `None` once sent, when empty, or when a
    /// stream has ended.
    Full(Option<Bytes>),
    /// Chunks from a producer.
    Stream(mpsc::Receiver<Msg>),
}

impl Body {
    /// A body of `bytes`, sent with its length.
    pub fn new(bytes: Bytes) -> Self {
        Body(Kind::Full(Some(bytes).filter(|b| !b.is_empty())))
    }

    /// A streamed body and the sender that feeds it, holding at most
    /// `chunks` unsent chunks (at least one) before the sender waits.
    pub fn channel(chunks: usize) -> (BodySender, Body) {
        let (tx, rx) = mpsc::channel(chunks.max(1));
        (BodySender(tx), Body(Kind::Stream(rx)))
    }
}

impl Default for Body {
    /// An empty body.
    fn default() -> Self {
        Body(Kind::Full(None))
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::new(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::new(bytes.into())
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::new(text.into())
    }
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = CutShort;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, CutShort>>> {
        let this = self.get_mut();
        match &mut this.0 {
            Kind::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Kind::Stream(rx) => match rx.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(Msg::Data(b))) => Poll::Ready(Some(Ok(Frame::data(b)))),
                Poll::Ready(Some(Msg::End)) => {
                    this.0 = Kind::Full(None);
                    Poll::Ready(None)
                }
                Poll::Ready(None) => {
                    this.0 = Kind::Full(None);
                    Poll::Ready(Some(Err(CutShort)))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.0, Kind::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match &self.0 {
            Kind::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Kind::Stream(_) => SizeHint::default(),
        }
    }
}

/// Feeds a [`Body::channel`] body. Dropping it without
/// [`blocking_finish`](Self::blocking_finish) cuts the body short.
#[derive(Debug)]
pub struct BodySender(mpsc::Sender<Msg>);

/// The client is gone: nothing more can be sent.
#[derive(Debug, Error)]
#[error("the client is gone")]
pub struct Gone;

impl BodySender {
    /// Sends a chunk, waiting while the channel is full. For blocking
    /// threads only (it panics on a runtime's worker).
    ///
    /// # Errors
    /// [`Gone`] when the body was dropped (the connection ended).
    pub fn blocking_send(&self, chunk: Bytes) -> Result<(), Gone> {
        self.0.blocking_send(Msg::Data(chunk)).map_err(|_| Gone)
    }

    /// Ends the body: it is complete. For blocking threads only.
    ///
    /// # Errors
    /// [`Gone`] when the body was dropped (the connection ended).
    pub fn blocking_finish(self) -> Result<(), Gone> {
        self.0.blocking_send(Msg::End).map_err(|_| Gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::body::Body as _;

    #[test]
    fn bytes_in_hand_have_an_exact_length() {
        assert_eq!(Body::from("abc".to_owned()).size_hint().exact(), Some(3));
        assert!(Body::default().is_end_stream());
        assert_eq!(Body::default().size_hint().exact(), Some(0));
        let (_tx, stream) = Body::channel(1);
        assert_eq!(stream.size_hint().exact(), None);
    }

    #[tokio::test]
    async fn a_stream_is_whole_only_when_its_producer_finishes() {
        let (tx, body) = Body::channel(1);
        tokio::task::spawn_blocking(move || {
            for part in ["ab", "cd"] {
                tx.blocking_send(Bytes::from_static(part.as_bytes()))?;
            }
            tx.blocking_finish()
        });
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcd");

        let (tx, body) = Body::channel(1);
        tokio::task::spawn_blocking(move || tx.blocking_send(Bytes::from_static(b"ab")));
        assert!(
            body.collect().await.is_err(),
            "a stream dropped early must fail"
        );
    }
}
