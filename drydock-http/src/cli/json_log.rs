//! `--log-format json`: one JSON object per line, written straight into the
//! log's buffer. The shape is tracing-subscriber's JSON format with
//! flattened events, the current span and the span list (`timestamp`,
//! `level`, the event's fields with `message`, `target`, `span`, `spans`);
//! its own formatter is not used because it hands serde_json's many small
//! writes through a UTF-8 check each and cost more than the rest of a
//! request's bookkeeping (benches/observability.sh). Span fields are still
//! recorded by tracing-subscriber's [`JsonFields`], whose JSON object text is
//! copied in as it is.

use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON event format; use with [`JsonFields`] as the field formatter.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S> FormatEvent<S, JsonFields> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, JsonFields>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        SystemTime.format_time(&mut writer)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(metadata.level().as_str())?;
        writer.write_char('"')?;
        let mut fields = Fields { out: &mut writer, result: Ok(()), scratch: String::new() };
        event.record(&mut fields);
        fields.result?;
        writer.write_str(",\"target\":")?;
        string(&mut writer, metadata.target())?;
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<_> = scope.from_root().collect();
            if let Some(current) = spans.last() {
                writer.write_str(",\"span\":")?;
                span(&mut writer, current.name(), current.extensions().get::<FormattedFields<JsonFields>>().map(|fields| fields.as_str()))?;
            }
            writer.write_str(",\"spans\":[")?;
            for (index, each) in spans.iter().enumerate() {
                if index > 0 {
                    writer.write_char(',')?;
                }
                span(&mut writer, each.name(), each.extensions().get::<FormattedFields<JsonFields>>().map(|fields| fields.as_str()))?;
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

/// `{"name":NAME, …fields}` from the span's recorded JSON object text.
fn span(out: &mut Writer<'_>, name: &str, fields: Option<&str>) -> fmt::Result {
    out.write_str("{\"name\":")?;
    string(out, name)?;
    // The recorded text is a JSON object (`{}` or `{"a":1,…}`): its members
    // follow the name.
    if let Some(members) = fields.and_then(|text| text.trim().strip_prefix('{')).map(str::trim_start).filter(|rest| *rest != "}") {
        out.write_char(',')?;
        out.write_str(members)?;
    } else {
        out.write_char('}')?;
    }
    Ok(())
}

/// Writes each field as `,"name":value`.
struct Fields<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
    /// A `Debug` value's text before it is escaped.
    scratch: String,
}

impl Fields<'_, '_> {
    fn key(&mut self, field: &Field) -> fmt::Result {
        self.out.write_char(',')?;
        string(self.out, field.name())?;
        self.out.write_char(':')
    }

    fn raw(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| self.out.write_fmt(value));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = self.key(field).and_then(|()| string(self.out, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw(field, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.raw(field, format_args!("{value}"));
        } else {
            self.raw(field, format_args!("null"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() {
            return;
        }
        self.scratch.clear();
        if write!(self.scratch, "{value:?}").is_err() {
            self.scratch.clear();
        }
        let text = std::mem::take(&mut self.scratch);
        self.result = self.key(field).and_then(|()| string(self.out, &text));
        self.scratch = text;
    }
}

/// `text` as a JSON string: quoted, with `"`, `\` and control characters
/// escaped, the rest written in runs.
fn string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut start = 0;
    for (at, byte) in text.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.write_str(&text[start..at])?;
        if escaped.is_empty() {
            write!(out, "\\u{byte:04x}")?;
        } else {
            out.write_str(escaped)?;
        }
        start = at + 1;
    }
    out.write_str(&text[start..])?;
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str) -> String {
        let mut out = String::new();
        string(&mut out, text).expect("write");
        out
    }

    #[test]
    fn strings_are_escaped_as_json_reads_them() {
        for text in ["plain", "", "quote \" and \\ back", "line\nbreak\ttab\r", "bell \u{7} nul \u{0}", "ünïcødé ✓", "\u{1f}end"] {
            let written = quoted(text);
            assert_eq!(serde_json::from_str::<String>(&written).expect("valid JSON"), text, "{written}");
        }
    }

    #[test]
    fn events_and_spans_are_objects_with_the_subscriber_shape() {
        use std::sync::{Arc, Mutex};
        use tracing_subscriber::layer::SubscriberExt;

        #[derive(Clone, Default)]
        struct Buffer(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().expect("lock").extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer =
            tracing_subscriber::fmt::layer().fmt_fields(JsonFields::new()).event_format(JsonLines).with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(count = 3_u64, ok = true, ratio = 0.5, name = "a \"b\"", shown = %"x\ny", "plain event");
            let outer = tracing::info_span!("outer", task_id = "t1");
            let _outer = outer.enter();
            let inner = tracing::info_span!("inner");
            let _inner = inner.enter();
            tracing::warn!(delta = -2_i64, "in spans");
        });
        let text = String::from_utf8(buffer.0.lock().expect("lock").clone()).expect("UTF-8");
        let lines: Vec<serde_json::Value> =
            text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line}"))).collect();
        assert_eq!(lines.len(), 2, "{text}");
        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "plain event");
        assert_eq!(first["count"], 3);
        assert_eq!(first["ok"], true);
        assert_eq!(first["ratio"], 0.5);
        assert_eq!(first["name"], "a \"b\"");
        assert_eq!(first["shown"], "x\ny");
        assert!(first["target"].as_str().is_some_and(|target| target.starts_with("drydock_http")), "{first}");
        assert!(first["timestamp"].as_str().is_some_and(|time| time.ends_with('Z') && time.contains('T')), "{first}");
        assert!(first.get("span").is_none() && first.get("spans").is_none(), "{first}");
        let second = &lines[1];
        assert_eq!(second["delta"], -2);
        assert_eq!(second["span"], serde_json::json!({"name": "inner"}));
        assert_eq!(second["spans"], serde_json::json!([{"name": "outer", "task_id": "t1"}, {"name": "inner"}]));
    }
}
