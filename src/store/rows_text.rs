//! Rows of a query table rendered as one text, by the database and by `verify` alike, so that
//! `verify --db` compares a run's rows as one value instead of decoding them one by one.
//!
//! Each field is written so that it cannot run into the next one: a text as `<length>:<text>,`
//! (its length in characters) and a null text as `:,`, an integer as `<digits>,` and a null
//! integer as `,`; rows are joined by `;`. Two lists of rows with the same columns therefore
//! render as the same text only when they are equal, whatever the fields hold. The database
//! renders a row with one call of `format` (`%s` writes a null as nothing on both backends).

use super::{i64_of, with_pool, Store};

/// One column of a rendered row.
#[derive(Clone, Copy)]
pub(super) enum Column {
    Text(&'static str),
    Integer(&'static str),
}

/// The SQL aggregate that renders the rows a query selects as one text (null for no rows), in
/// the order `order_by`. Both backends read it (`string_agg` with `order by` needs SQLite 3.44).
pub(super) fn sql(columns: &[Column], order_by: &str) -> String {
    let mut format = String::new();
    let mut args = Vec::new();
    for c in columns {
        match c {
            Column::Text(c) => {
                format.push_str("%s:%s,");
                args.push(format!("length({c})"));
                args.push((*c).to_owned());
            }
            Column::Integer(c) => {
                format.push_str("%s,");
                args.push((*c).to_owned());
            }
        }
    }
    format!(
        "string_agg(format('{format}', {}), ';' order by {order_by})",
        args.join(", ")
    )
}

/// The text of a query made with [`sql`] for the rows of entries `from..to` (its `$1` and
/// `$2`).
pub(super) async fn between(
    store: &Store,
    query: &str,
    from: u64,
    to: u64,
) -> anyhow::Result<Option<String>> {
    with_pool!(store, pool => {
        Ok(sqlx::query_scalar(query)
            .bind(i64_of(from))
            .bind(i64_of(to))
            .fetch_one(pool)
            .await?)
    })
}

/// Renders rows as [`sql`] does, one [`Row`] at a time. Every row writes at least one `,`, so
/// the text is empty exactly while no row was started.
#[derive(Default)]
pub struct RowsText {
    text: String,
}

/// One row being rendered.
pub struct Row<'a>(&'a mut String);

impl Row<'_> {
    pub fn text(self, value: Option<&str>) -> Self {
        if let Some(v) = value {
            let chars = if v.is_ascii() {
                v.len()
            } else {
                v.chars().count()
            };
            self.0.push_str(itoa::Buffer::new().format(chars));
            self.0.push(':');
            self.0.push_str(v);
        } else {
            self.0.push(':');
        }
        self.0.push(',');
        self
    }

    /// A UUID as text, in the hyphenated lower-case form the tables hold.
    pub fn uuid(self, value: Option<uuid::Uuid>) -> Self {
        match value {
            Some(v) => self.text(Some(
                v.hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            )),
            None => self.text(None),
        }
    }

    pub fn integer(self, value: Option<i64>) -> Self {
        if let Some(v) = value {
            self.0.push_str(itoa::Buffer::new().format(v));
        }
        self.0.push(',');
        self
    }
}

impl RowsText {
    /// An empty rendering, with room for `bytes`.
    pub fn with_capacity(bytes: usize) -> Self {
        RowsText {
            text: String::with_capacity(bytes),
        }
    }

    /// Starts the next row.
    pub fn row(&mut self) -> Row<'_> {
        if !self.text.is_empty() {
            self.text.push(';');
        }
        Row(&mut self.text)
    }

    /// The rendering, as the database gives it (`None` for no rows).
    pub fn finish(self) -> Option<String> {
        (!self.text.is_empty()).then_some(self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(rows: &[(Option<&str>, Option<i64>)]) -> Option<String> {
        let mut t = RowsText::default();
        for (s, n) in rows {
            t.row().text(*s).integer(*n);
        }
        t.finish()
    }

    #[test]
    fn fields_cannot_run_into_each_other() {
        assert_eq!(render(&[]), None);
        assert_eq!(
            render(&[(Some("ab"), Some(-5)), (None, None)]).as_deref(),
            Some("2:ab,-5,;:,,")
        );
        // A separator inside a text, or a text that would absorb the next row, renders apart.
        let one = render(&[(Some("a,1,;1:b"), Some(2))]);
        let two = render(&[(Some("a"), Some(1)), (Some("b"), Some(2))]);
        assert_ne!(one, two);
        assert_ne!(render(&[(Some(""), None)]), render(&[(None, None)]));
        assert_ne!(render(&[(Some(":"), None)]), render(&[(None, None)]));
        // Lengths count characters, as SQL's length() does.
        assert_eq!(
            render(&[(Some("危废"), Some(0))]).as_deref(),
            Some("2:危废,0,")
        );
    }
}
