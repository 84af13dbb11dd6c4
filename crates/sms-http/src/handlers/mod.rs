//! The HTTP handlers, one module per area.

pub mod admin;
pub mod chats;
pub mod ops;
pub mod sms;
pub mod webhooks;

/// The paging of every list: the total over all pages is answered in `X-Total-Count`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// From 1; default 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    page: Option<String>,
    /// 1 to 100; default 100.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100)]
    per: Option<String>,
}

impl PageParams {
    /// The paging of a request's query string, by hand: an empty value (`?per=`) is a value,
    /// not an absence.
    pub(crate) fn of(req: &actix_web::HttpRequest) -> Result<sms_service::PageQuery, crate::error::ApiError> {
        let pairs = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map_err(|e| crate::error::ApiError::bad_request(format!("invalid query: {e}")))?
            .into_inner();
        let take = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        Ok(Self { page: take("page"), per: take("per") }.into())
    }
}

impl From<PageParams> for sms_service::PageQuery {
    fn from(p: PageParams) -> Self {
        Self { page: p.page, per: p.per }
    }
}

/// A page of a list in its wire form, with the total over all pages.
pub(crate) fn page<'a, R, W: serde::Serialize>(
    (records, total): &'a (Vec<R>, i64),
    wire: impl Fn(&'a R) -> W,
) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .insert_header(("X-Total-Count", total.to_string()))
        .json(records.iter().map(wire).collect::<Vec<_>>())
}

/// Parses an id from a path segment; anything else names no resource (404).
pub(crate) fn parse_id(raw: &str, what: &'static str) -> Result<i64, crate::error::ApiError> {
    Ok(sms_service::admin::parse_id(raw, what)?)
}

/// How an outcome of an idempotent request is kept: `success` and the wire form of what was
/// created, or the error as the client receives it.
pub(crate) fn render<T: 'static, W: serde::Serialize + 'static>(
    success: u16,
    wire: fn(&T) -> W,
) -> sms_service::Render<T> {
    use actix_web::ResponseError;
    std::sync::Arc::new(move |outcome| match outcome {
        Ok(created) => {
            sms_service::Remembered { status: success, body: serde_json::to_string(&wire(created)).unwrap_or_default() }
        }
        Err(e) => {
            let error = crate::error::ApiError::from(e.clone());
            sms_service::Remembered { status: error.status_code().as_u16(), body: error.body_json() }
        }
    })
}

/// The answer of an idempotent request, marked `Idempotent-Replayed: true` when it is the first
/// request's, replayed.
pub(crate) fn remembered(outcome: sms_service::SendOutcome) -> actix_web::HttpResponse {
    use actix_web::http::StatusCode;
    let status = StatusCode::from_u16(outcome.answer.status).unwrap_or(StatusCode::OK);
    let mut response = actix_web::HttpResponse::build(status);
    response.content_type("application/json");
    if outcome.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.body(outcome.answer.body)
}
