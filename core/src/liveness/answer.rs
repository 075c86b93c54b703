//! The `/healthz` answer, for any HTTP server: [`healthz_response`] with no
//! HTTP library named; with feature `http`, an [`http::Response`]
//! ([`healthz_http_response`]); with feature `tower`, a
//! `tower_service::Service` ([`HealthzService`]) that axum, hyper-util or
//! tonic mount like any other, e.g. axum's
//! `Router::new().route_service("/healthz", HealthzService::new(heartbeat))`.
//!
//! [`http::Response`]: ::http::Response

use super::Heartbeat;

/// An HTTP answer for a health request, for services that mount `/healthz`
/// in their own server (hyper, axum, actix): status, headers and body, with
/// no HTTP library named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthResponse {
    /// 200 when healthy, 503 when stalled.
    pub status: u16,
    /// `content-type` and `cache-control: no-store`.
    pub headers: Vec<(&'static str, &'static str)>,
    /// The JSON body of [`super::Health`].
    pub body: String,
}

/// The `/healthz` answer for `heartbeat` now (H1).
pub fn healthz_response(heartbeat: &Heartbeat) -> HealthResponse {
    let h = heartbeat.health();
    HealthResponse {
        status: h.status_code(),
        headers: vec![("content-type", "application/json"), ("cache-control", "no-store")],
        body: h.to_json(),
    }
}

/// What a health route answers a method: `GET` the health, `HEAD` its
/// headers with the `GET`'s length, anything else 405 with `allow`.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) enum Answer {
    Health { response: HealthResponse, head: bool },
    MethodNotAllowed,
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn answer_method(method: &[u8], heartbeat: &Heartbeat) -> Answer {
    match method {
        b"GET" => Answer::Health { response: healthz_response(heartbeat), head: false },
        b"HEAD" => Answer::Health { response: healthz_response(heartbeat), head: true },
        _ => Answer::MethodNotAllowed,
    }
}

#[cfg(feature = "http")]
mod with_http {
    use ::http::{HeaderValue, Method, Request, Response, StatusCode, header};

    use super::{Answer, HealthResponse, answer_method};
    use crate::liveness::Heartbeat;

    impl HealthResponse {
        /// As an [`http::Response`](::http::Response) (feature `http`).
        pub fn into_http(self) -> Response<String> {
            let mut out = Response::new(self.body);
            *out.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in self.headers {
                out.headers_mut().insert(name, HeaderValue::from_static(value));
            }
            out
        }
    }

    /// The answer of a route mounted at `/healthz` to `method` (feature
    /// `http`): `GET` 200 or 503 with the JSON health, `HEAD` the same
    /// status and headers with an empty body and the `GET`'s
    /// `content-length`, any other method 405 with `allow: GET, HEAD`.
    ///
    /// ```
    /// # #[cfg(feature = "real")] {
    /// use steadfast_core::liveness::{Heartbeat, HeartbeatConfig, healthz_http_response};
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    /// let _in = rt.enter();
    /// let (hb, _ticker) = Heartbeat::start(&steadfast_core::Env::real().unwrap(), HeartbeatConfig::default(), None);
    /// let r = healthz_http_response(&http::Method::GET, &hb);
    /// assert_eq!(r.status(), 200);
    /// assert_eq!(r.headers()["cache-control"], "no-store");
    /// assert_eq!(healthz_http_response(&http::Method::POST, &hb).status(), 405);
    /// # }
    /// ```
    pub fn healthz_http_response(method: &Method, heartbeat: &Heartbeat) -> Response<String> {
        match answer_method(method.as_str().as_bytes(), heartbeat) {
            Answer::Health { response, head: false } => response.into_http(),
            Answer::Health { response, head: true } => {
                let len = response.body.len();
                let mut out = response.into_http();
                out.body_mut().clear();
                out.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                out
            }
            Answer::MethodNotAllowed => {
                let mut out = Response::new(String::new());
                *out.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
                out.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                out
            }
        }
    }

    /// The same for a whole request (its body is not read).
    pub fn healthz_http<B>(request: &Request<B>, heartbeat: &Heartbeat) -> Response<String> {
        healthz_http_response(request.method(), heartbeat)
    }
}

#[cfg(feature = "http")]
pub use with_http::{healthz_http, healthz_http_response};

#[cfg(feature = "tower")]
mod with_tower {
    use std::convert::Infallible;
    use std::future::{Ready, ready};
    use std::task::{Context, Poll};

    use ::http::{Request, Response};

    use crate::liveness::Heartbeat;

    /// `/healthz` as a `tower_service::Service` (feature `tower`): mount it
    /// in axum with `route_service("/healthz", HealthzService::new(hb))`,
    /// or call it from any tower stack. It is always ready, never fails,
    /// answers at once (it only reads the heartbeat) and never reads the
    /// request body.
    #[derive(Clone, Debug)]
    pub struct HealthzService {
        heartbeat: Heartbeat,
    }

    impl HealthzService {
        /// A service answering for `heartbeat`.
        pub fn new(heartbeat: Heartbeat) -> HealthzService {
            HealthzService { heartbeat }
        }
    }

    impl<B> tower_service::Service<Request<B>> for HealthzService {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = Ready<Result<Response<String>, Infallible>>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request<B>) -> Self::Future {
            ready(Ok(super::with_http::healthz_http(&request, &self.heartbeat)))
        }
    }
}

#[cfg(feature = "tower")]
pub use with_tower::HealthzService;
