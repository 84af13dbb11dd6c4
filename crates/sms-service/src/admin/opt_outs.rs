//! The consumers who opted out of a tenant's messages.

use futures_util::stream::{self, Stream};
use sms_domain::time::format_timestamp;
use sms_domain::{E164Number, TenantId};
use sms_store::OptOut;

use crate::error::{Result, ServiceError};
use crate::{PageQuery, Service};

/// The columns of the opt-out CSV, in order.
pub const OPT_OUT_CSV_COLUMNS: [&str; 5] = ["number", "created_at", "keyword", "outbound_number", "message_id"];
/// Opt-outs read at a time while the CSV streams.
const CSV_SLICE: i64 = 1000;

/// One opt-out as a CSV line.
fn csv_line(o: &OptOut) -> String {
    sms_domain::csv::line(&[
        o.number.as_str().to_owned(),
        format_timestamp(o.created_at),
        o.keyword.clone().unwrap_or_default(),
        o.outbound_number.clone().unwrap_or_default(),
        o.message_id.map(|id| id.to_string()).unwrap_or_default(),
    ])
}

impl Service {
    pub async fn opt_outs(&self, subdomain: &str, page: &PageQuery) -> Result<(Vec<OptOut>, i64)> {
        let window = page.window()?;
        self.for_tenant(subdomain, move |conn, tenant, _| Ok(sms_store::opt_outs::list(conn, tenant.id, window)?)).await
    }

    /// The tenant's whole opt-out list as CSV (a header row, then one line per opt-out, oldest
    /// first), read a slice at a time as the stream is consumed. A missing tenant fails before
    /// the first line.
    pub async fn opt_outs_csv(&self, subdomain: &str) -> Result<impl Stream<Item = Result<String>> + 'static> {
        let tenant_id = self.for_tenant(subdomain, |_, tenant, _| Ok(tenant.id)).await?;
        Ok(self.opt_out_lines(tenant_id))
    }

    pub(crate) fn opt_out_lines(&self, tenant_id: TenantId) -> impl Stream<Item = Result<String>> + 'static {
        let header = sms_domain::csv::line(&OPT_OUT_CSV_COLUMNS);
        let state = (self.clone(), Some(header), 0_i64, false);
        stream::unfold(state, move |(service, header, after, done)| async move {
            if let Some(header) = header {
                return Some((Ok(header), (service, None, after, done)));
            }
            if done {
                return None;
            }
            let slice =
                service.db(move |conn| Ok(sms_store::opt_outs::after(conn, tenant_id, after, CSV_SLICE)?)).await;
            match slice {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let last = rows.last().map_or(after, |o| o.id);
                    let done = i64::try_from(rows.len()).unwrap_or(0) < CSV_SLICE;
                    Some((Ok(rows.iter().map(csv_line).collect()), (service, None, last, done)))
                }
                Err(e) => Some((Err(e), (service, None, after, true))),
            }
        })
    }

    /// Removes an opt-out, so the tenant may text the number again.
    pub async fn remove_opt_out(&self, subdomain: &str, number: &str) -> Result<()> {
        let number = number.to_owned();
        self.for_tenant_writing(subdomain, move |conn, tenant, _| {
            let number = E164Number::parse(&number).map_err(|_| ServiceError::NotFound("opt-out"))?;
            if crate::life::lift(conn, tenant.id, &number)? {
                Ok(())
            } else {
                Err(ServiceError::NotFound("opt-out"))
            }
        })
        .await
    }
}
