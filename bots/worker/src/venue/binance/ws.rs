//! WebSocket plumbing shared by the market and user streams: connect over rustls (ring)
//! or plain TCP, read with a staleness timeout, answer pings.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One read from the socket.
pub(crate) enum Read {
    /// A text (or UTF-8 binary) frame.
    Text(String),
    /// Nothing arrived for the staleness period.
    Stale,
    /// The server closed the connection or it broke.
    Closed(String),
}

/// Connect to `url` (`ws://` or `wss://`) within `timeout`. Errors are returned as text
/// the caller must redact (a user-stream URL holds the listenKey).
pub(crate) async fn connect(
    url: &str,
    tls: &Arc<rustls::ClientConfig>,
    timeout: Duration,
) -> Result<WsStream, String> {
    let fut = tokio_tungstenite::connect_async_tls_with_config(
        url,
        None,
        true,
        Some(Connector::Rustls(Arc::clone(tls))),
    );
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(format!("connect timed out after {}s", timeout.as_secs())),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok((ws, _resp))) => Ok(ws),
    }
}

/// Read the next data frame, answering pings; `Stale` if nothing at all (not even a
/// ping) arrives within `stale_after`.
pub(crate) async fn read(ws: &mut WsStream, stale_after: Duration) -> Read {
    loop {
        let next = match tokio::time::timeout(stale_after, ws.next()).await {
            Err(_) => return Read::Stale,
            Ok(n) => n,
        };
        match next {
            None => return Read::Closed("connection closed".into()),
            Some(Err(e)) => return Read::Closed(e.to_string()),
            Some(Ok(Message::Text(t))) => return Read::Text(t.to_string()),
            Some(Ok(Message::Binary(b))) => match String::from_utf8(b.to_vec()) {
                Ok(t) => return Read::Text(t),
                Err(_) => continue,
            },
            Some(Ok(Message::Ping(payload))) => {
                // tungstenite queues the pong itself; flushing sends it now.
                let _ = payload;
                if let Err(e) = ws.flush().await {
                    return Read::Closed(e.to_string());
                }
            }
            Some(Ok(Message::Pong(_))) | Some(Ok(Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                let why = frame
                    .map(|f| format!("closed by server: {} {}", u16::from(f.code), f.reason))
                    .unwrap_or_else(|| "closed by server".into());
                return Read::Closed(why);
            }
        }
    }
}

/// Close politely, ignoring errors (the connection may already be gone).
pub(crate) async fn close(ws: &mut WsStream) {
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
}
