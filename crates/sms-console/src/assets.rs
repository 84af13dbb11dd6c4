//! The console's styles and script, compiled into the binary.

use actix_web::http::header;
use actix_web::{web, HttpResponse};

const STYLES: &str = include_str!("../assets/console.css");
const SCRIPT: &str = include_str!("../assets/console.js");

/// `GET /console/static/{name}`: the files change only with the binary, whose version names
/// them in every page's links, so a browser may keep them a day.
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let (body, kind) = match name.as_str() {
        "console.css" => (STYLES, "text/css; charset=utf-8"),
        "console.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().content_type("text/html; charset=utf-8").body("not found"),
    };
    HttpResponse::Ok().content_type(kind).insert_header((header::CACHE_CONTROL, "public, max-age=86400")).body(body)
}
