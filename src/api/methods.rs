//! Routing by method, as poem's `RouteMethod` does, with one difference: a method the route
//! does not take is answered 405 with the `Allow` header RFC 9110 requires, naming those it
//! does (HEAD wherever GET is, as poem serves it). The route files use these `get`, `post`, ...
//! in place of poem's.

use poem::error::MethodNotAllowedError;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoEndpoint, IntoResponse, Request, Response, Result, RouteMethod};

use crate::error::code;

/// The endpoints of one route by method.
#[derive(Default)]
pub struct Methods {
    route: RouteMethod,
    allow: Vec<Method>,
}

macro_rules! methods {
    ($($name:ident => $method:ident),*) => {
        impl Methods {
            $(
                #[must_use]
                pub fn $name<E>(mut self, ep: E) -> Self
                where
                    E: IntoEndpoint,
                    E::Endpoint: 'static,
                {
                    self.route = self.route.method(Method::$method, ep);
                    self.allow.push(Method::$method);
                    self
                }
            )*
        }
    };
}

macro_rules! first_method {
    ($($name:ident),*) => {
        $(
            /// A route taking this method (more are chained on).
            pub fn $name<E>(ep: E) -> Methods
            where
                E: IntoEndpoint,
                E::Endpoint: 'static,
            {
                Methods::default().$name(ep)
            }
        )*
    };
}

methods!(get => GET, post => POST, put => PUT, patch => PATCH, delete => DELETE);
first_method!(get, post);

/// The `Allow` header's value for a route taking `methods`.
fn allow(methods: &[Method]) -> String {
    let mut names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    if methods.contains(&Method::GET) && !methods.contains(&Method::HEAD) {
        names.push("HEAD");
    }
    names.join(", ")
}

impl Endpoint for Methods {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        match self.route.call(req).await {
            Err(e) if e.is::<MethodNotAllowedError>() => Ok(not_allowed(&allow(&self.allow))),
            other => other,
        }
    }
}

/// The 405 answer, in the JSON error shape, naming what the route takes.
pub(super) fn not_allowed(allow: &str) -> Response {
    let body = serde_json::json!({
        "code": code::METHOD_NOT_ALLOWED.name,
        "message": format!("this route does not take that method; it takes {allow}"),
    });
    let mut resp = Response::builder()
        .status(StatusCode::METHOD_NOT_ALLOWED)
        .content_type("application/json")
        .body(body.to_string());
    if let Ok(v) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// A poem-openapi service (its routes are its own) answering a method it does not take the
/// same way: what each path takes is read from the service's own document.
pub struct Documented<E> {
    inner: E,
    /// Path templates (`{name}` segments match anything) and what they take.
    paths: Vec<(Vec<String>, String)>,
}

/// `service` with `Allow` on its 405 answers, from `spec` (its OpenAPI document, JSON, whose
/// paths start with `prefix`, where the service is mounted).
pub fn documented<E: IntoEndpoint>(
    service: E,
    spec: &str,
    prefix: &str,
) -> Documented<E::Endpoint> {
    let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
    let paths = doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, ops)| {
            let methods: Vec<Method> = ops
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(m, _)| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
                .collect();
            let template = segments(path.strip_prefix(prefix).unwrap_or(path))
                .map(str::to_owned)
                .collect();
            (template, allow(&methods))
        })
        .collect();
    Documented {
        inner: service.into_endpoint(),
        paths,
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_matches('/').split('/')
}

impl<E: Endpoint> Endpoint for Documented<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        // The path is read only for a 405 (a `Uri` clone shares its bytes).
        let uri = req.uri().clone();
        match self.inner.call(req).await {
            Err(e) if e.is::<MethodNotAllowedError>() => {
                let path: Vec<&str> = segments(uri.path()).collect();
                // A literal segment wins over a parameter (`/media/folders`, not
                // `/media/{id}`), as the router chose.
                let allow = self
                    .paths
                    .iter()
                    .filter(|(template, _)| {
                        template.len() == path.len()
                            && template
                                .iter()
                                .zip(&path)
                                .all(|(t, p)| t.starts_with('{') || t == p)
                    })
                    .max_by_key(|(template, _)| {
                        template.iter().filter(|t| !t.starts_with('{')).count()
                    });
                match allow {
                    Some((_, allow)) => Ok(not_allowed(allow)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
            Ok(out) => Ok(out.into_response()),
        }
    }
}
