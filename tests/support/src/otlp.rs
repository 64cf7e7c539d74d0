//! A local OTLP/HTTP receiver for tests (feature `otlp`): accepts `POST /v1/traces` and
//! `POST /v1/metrics` with protobuf bodies, as an OpenTelemetry Collector does, decodes
//! them with the OpenTelemetry project's own message types (`opentelemetry-proto`) and
//! keeps what it received for the test to read. Point a program at it with
//! `OTEL_EXPORTER_OTLP_ENDPOINT=`[`OtlpReceiver::endpoint`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;

use crate::{HostError, Served, TestServer};

/// The receiver on its own thread (see [`TestServer`]).
pub type OtlpServer = TestServer<OtlpReceiver>;

/// Why the receiver did not start.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct OtlpError(#[from] HostError);

/// One span as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// The span's name.
    pub name: String,
    /// Its attributes, as strings.
    pub attributes: Vec<(String, String)>,
    /// The resource's attributes (`service.name`, ...).
    pub resource: Vec<(String, String)>,
    /// The status message when the span's status is an error.
    pub error: Option<String>,
}

/// One number data point of a gauge or a sum, as received.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// The metric's name.
    pub metric: String,
    /// `gauge` or `sum`.
    pub kind: &'static str,
    /// Whether a sum is monotonic (a counter).
    pub monotonic: bool,
    /// The point's attributes, as strings.
    pub attributes: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// The resource's attributes.
    pub resource: Vec<(String, String)>,
}

impl Point {
    /// The attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        find(&self.attributes, key)
    }
}

impl Span {
    /// The attribute `key`, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        find(&self.attributes, key)
    }

    /// The resource attribute `key`, if present.
    pub fn resource_attribute(&self, key: &str) -> Option<&str> {
        find(&self.resource, key)
    }
}

fn find<'a>(kvs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    kvs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[derive(Debug, Default)]
struct Received {
    spans: Vec<Span>,
    points: Vec<Point>,
    /// Requests that were not valid OTLP (path, method, content type or body).
    refused: Vec<String>,
}

/// The receiver's handle: what arrived so far.
#[derive(Clone, Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl OtlpReceiver {
    /// The value for `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received.
    pub fn spans(&self) -> Vec<Span> {
        self.lock().spans.clone()
    }

    /// Every data point received (each export adds its points again).
    pub fn points(&self) -> Vec<Point> {
        self.lock().points.clone()
    }

    /// The points of metric `name`.
    pub fn points_of(&self, name: &str) -> Vec<Point> {
        self.lock()
            .points
            .iter()
            .filter(|p| p.metric == name)
            .cloned()
            .collect()
    }

    /// What was refused as not OTLP/HTTP protobuf (empty when the exporters behaved).
    pub fn refused(&self) -> Vec<String> {
        self.lock().refused.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
        let mut r = self.lock();
        match path {
            "/v1/traces" => {
                let req = ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())?;
                for rs in req.resource_spans {
                    let resource = rs
                        .resource
                        .map(|r| strings(&r.attributes))
                        .unwrap_or_default();
                    for ss in rs.scope_spans {
                        for s in ss.spans {
                            // Status code 2 is STATUS_CODE_ERROR.
                            let error = s.status.filter(|st| st.code == 2).map(|st| st.message);
                            r.spans.push(Span {
                                name: s.name,
                                attributes: strings(&s.attributes),
                                resource: resource.clone(),
                                error,
                            });
                        }
                    }
                }
                Ok(ExportTraceServiceResponse::default().encode_to_vec())
            }
            "/v1/metrics" => {
                let req = ExportMetricsServiceRequest::decode(body).map_err(|e| e.to_string())?;
                for rm in req.resource_metrics {
                    let resource = rm
                        .resource
                        .map(|r| strings(&r.attributes))
                        .unwrap_or_default();
                    for sm in rm.scope_metrics {
                        for m in sm.metrics {
                            let (kind, monotonic, points) = match m.data {
                                Some(metric::Data::Gauge(g)) => ("gauge", false, g.data_points),
                                Some(metric::Data::Sum(s)) => {
                                    ("sum", s.is_monotonic, s.data_points)
                                }
                                _ => continue,
                            };
                            for p in points {
                                let value = match p.value {
                                    Some(number_data_point::Value::AsDouble(v)) => v,
                                    Some(number_data_point::Value::AsInt(v)) => v as f64,
                                    None => continue,
                                };
                                r.points.push(Point {
                                    metric: m.name.clone(),
                                    kind,
                                    monotonic,
                                    attributes: strings(&p.attributes),
                                    value,
                                    resource: resource.clone(),
                                });
                            }
                        }
                    }
                }
                Ok(ExportMetricsServiceResponse::default().encode_to_vec())
            }
            other => Err(format!("no OTLP signal at {other}")),
        }
    }
}

fn strings(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(v: &AnyValue) -> String {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

async fn handle(
    receiver: OtlpReceiver,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let protobuf = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/x-protobuf");
    let post = req.method() == Method::POST;
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let outcome = match (post, protobuf, body) {
        (false, _, _) => Err(format!("{path}: not a POST")),
        (_, false, _) => Err(format!("{path}: not application/x-protobuf")),
        (_, _, Err(e)) => Err(format!("{path}: reading the body: {e}")),
        (true, true, Ok(body)) => receiver.record(&path, &body),
    };
    let response = match outcome {
        Ok(answer) => Response::builder()
            .header(hyper::header::CONTENT_TYPE, "application/x-protobuf")
            .body(Full::new(Bytes::from(answer))),
        Err(why) => {
            receiver.lock().refused.push(why.clone());
            Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .body(Full::new(Bytes::from(why)))
        }
    };
    Ok(response.expect("a valid response"))
}

impl Served for OtlpReceiver {
    type Config = ();
    type Error = OtlpError;
    const THREAD_NAME: &'static str = "tw-otlp";

    fn spawn(listener: tokio::net::TcpListener, _: ()) -> Result<Self, OtlpError> {
        let addr = listener
            .local_addr()
            .map_err(|e| OtlpError(HostError::Bind(e)))?;
        let receiver = OtlpReceiver {
            addr,
            received: Arc::default(),
            stop: tokio::sync::watch::channel(false).0,
        };
        let r = receiver.clone();
        // The loop ends with the runtime, which stops once the receiver is told to.
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let r = r.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(r.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(receiver)
    }

    fn shutdown(&self) {
        self.stop.send_replace(true);
    }

    fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }
}
