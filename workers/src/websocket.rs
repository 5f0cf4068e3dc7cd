//! What every market stream shares: a WebSocket connection (`ws://` or `wss://` over rustls),
//! read one text frame at a time, with pings answered as they are read.

use futures::StreamExt;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, tungstenite::Message};

/// An open stream connection.
pub type Connection = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A frame that is not an event the stream's client reads: counted and skipped by the caller,
/// never fatal.
#[derive(Debug, thiserror::Error)]
#[error("malformed stream frame: {0}")]
pub struct MalformedFrame(pub String);

/// Opens the WebSocket at `url`.
pub async fn connect(url: &str) -> Result<Connection, tokio_tungstenite::tungstenite::Error> {
    let (connection, _) = tokio_tungstenite::connect_async(url).await?;
    Ok(connection)
}

/// The next text frame of `connection`: `None` once it is closed (by the server, or by an
/// error). Pings are answered by the library as frames are read.
pub async fn next_text(connection: &mut Connection) -> Option<Result<String, MalformedFrame>> {
    loop {
        match connection.next().await? {
            Ok(Message::Text(text)) => return Some(Ok(text.as_str().to_owned())),
            Ok(Message::Binary(_)) => {
                return Some(Err(MalformedFrame("a binary frame".into())));
            }
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => continue,
            Ok(Message::Close(_)) | Err(_) => return None,
        }
    }
}
