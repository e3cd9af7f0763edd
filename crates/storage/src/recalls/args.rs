//! Dynamic SQL with bound arguments: the text is built from fixed fragments,
//! every value travels as a `$N` parameter.

#[derive(Debug, Clone)]
pub(crate) enum Arg {
    Text(String),
    OptText(Option<String>),
    Int(i64),
}

#[derive(Debug, Default)]
pub(crate) struct Args {
    values: Vec<Arg>,
    /// Placeholders are `?`, bound by position.
    positional: bool,
}

impl Args {
    /// For SQL whose placeholders appear in the order their values are
    /// pushed: plain `?` on SQLite, which binds them by position (sqlx looks
    /// a numbered `$N` up by name, a linear search per parameter that made
    /// big multi-row statements cost the square of their size), `$N` on
    /// PostgreSQL.
    pub(crate) fn in_order(backend: crate::Backend) -> Args {
        Args { values: Vec::new(), positional: backend == crate::Backend::Sqlite }
    }

    /// Adds a value and returns its placeholder.
    pub(crate) fn push(&mut self, value: Arg) -> String {
        self.values.push(value);
        if self.positional { "?".to_string() } else { format!("${}", self.values.len()) }
    }

    pub(crate) fn text(&mut self, value: impl Into<String>) -> String {
        self.push(Arg::Text(value.into()))
    }

    pub(crate) fn opt_text(&mut self, value: Option<&str>) -> String {
        self.push(Arg::OptText(value.map(str::to_string)))
    }

    pub(crate) fn int(&mut self, value: i64) -> String {
        self.push(Arg::Int(value))
    }

    /// Adds the keys of a shared lookup (`crate::coalesce`) and returns their
    /// placeholders for an `IN (...)` list, padded with `filler` (a key no
    /// row has: the empty id or GTIN, row id 0) to the next power of two.
    /// The statement then takes one of a few shapes, which stay prepared on
    /// every connection, instead of one per batch size.
    pub(crate) fn padded_list(&mut self, keys: impl ExactSizeIterator<Item = Arg>, filler: Arg) -> String {
        let padding = keys.len().next_power_of_two() - keys.len();
        let keys = keys.chain(std::iter::repeat_n(filler, padding));
        keys.map(|key| self.push(key)).collect::<Vec<_>>().join(", ")
    }

    pub(crate) fn values(&self) -> &[Arg] {
        &self.values
    }
}

/// Binds every argument of an [`Args`] to a sqlx query (query, query_as or
/// query_scalar), for whichever backend the surrounding `on_pool!` selected.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args.values() {
            query = match arg {
                $crate::recalls::args::Arg::Text(s) => query.bind(s.clone()),
                $crate::recalls::args::Arg::OptText(s) => query.bind(s.clone()),
                $crate::recalls::args::Arg::Int(i) => query.bind(*i),
            };
        }
        query
    }};
}
pub(crate) use bind_args;

impl crate::Store {
    /// The rows of a read-only statement built with [`Args`], retried like
    /// every read ([`crate::Store::read`]).
    pub(crate) async fn read_rows<T>(&self, sql: &str, args: &Args) -> Result<Vec<T>, crate::StorageError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        self.read(|| async {
            Ok(crate::on_pool!(self, p => {
                bind_args!(sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string())), args).fetch_all(p).await?
            }))
        })
        .await
    }
}
