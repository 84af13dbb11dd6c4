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
