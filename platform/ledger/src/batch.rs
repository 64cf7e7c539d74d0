//! Multi-row statements: `INSERT … VALUES (…), (…)` cut into chunks under the engines'
//! bind-parameter limit, so a batch costs a handful of round trips, not one per row.

use sqlx::AnyConnection;

use crate::{Engine, LedgerError};

/// The most bind parameters one statement carries: SQLite's limit (32,766 since 3.32;
/// PostgreSQL allows 65,535). Multi-row statements are cut into chunks under it.
pub(crate) const MAX_PARAMS: usize = 32_766;

/// A bind parameter of a multi-row statement.
#[derive(Clone, Copy)]
pub(crate) enum Val<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
}

/// `($n+1, $n+2, …), (…)`: `rows` groups of `cols` placeholders, numbered after `first`
/// (PostgreSQL); SQLite gets anonymous `?`, numbered in order of appearance: it resolves
/// a named `$n` by a linear search of the names before it, quadratic in a long list.
pub(crate) fn placeholders(engine: Engine, rows: usize, cols: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * cols * 7);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..cols {
            if c > 0 {
                out.push_str(", ");
            }
            match engine {
                Engine::Sqlite => out.push('?'),
                Engine::Postgres => {
                    out.push('$');
                    out.push_str(&(first + r * cols + c + 1).to_string());
                }
            }
        }
        out.push(')');
    }
    out
}

pub(crate) fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    rows: &'q [Vec<Val<'q>>],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for row in rows {
        for v in row {
            q = match *v {
                Val::Text(t) => q.bind(t),
                Val::OptText(t) => q.bind(t),
                Val::Int(i) => q.bind(i),
            };
        }
    }
    q
}

/// Runs `head VALUES (…), (…) tail` over `rows` (each `cols` values), as few statements
/// as the parameter limit allows; returns every row the statements return.
pub(crate) async fn multi_row(
    conn: &mut AnyConnection,
    engine: Engine,
    head: &str,
    tail: &str,
    cols: usize,
    rows: &[Vec<Val<'_>>],
) -> Result<Vec<sqlx::any::AnyRow>, LedgerError> {
    let mut out = Vec::new();
    for chunk in rows.chunks(MAX_PARAMS / cols) {
        let sql = format!(
            "{head} VALUES {} {tail}",
            placeholders(engine, chunk.len(), cols, 0)
        );
        // A full chunk's text repeats (a settlement writes many): kept prepared in the
        // connection's statement cache. A shorter last chunk is its own text: not kept.
        let full = chunk.len() == MAX_PARAMS / cols;
        let q = bind_all(sqlx::query(&sql).persistent(full), chunk);
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// An owned bind parameter, for rows buffered across accounts.
#[derive(Clone, Debug)]
pub(crate) enum Owned {
    Text(String),
    Int(i64),
}

impl Owned {
    pub(crate) fn val(&self) -> Val<'_> {
        match self {
            Owned::Text(t) => Val::Text(t),
            Owned::Int(i) => Val::Int(*i),
        }
    }
}

impl From<String> for Owned {
    fn from(t: String) -> Self {
        Owned::Text(t)
    }
}

impl From<&str> for Owned {
    fn from(t: &str) -> Self {
        Owned::Text(t.to_owned())
    }
}

impl From<i64> for Owned {
    fn from(i: i64) -> Self {
        Owned::Int(i)
    }
}

/// Rows of one table buffered until there are enough for a multi-row statement.
#[derive(Debug)]
pub(crate) struct Buffer {
    head: &'static str,
    tail: &'static str,
    cols: usize,
    rows: Vec<Vec<Owned>>,
}

impl Buffer {
    pub(crate) fn new(head: &'static str, tail: &'static str, cols: usize) -> Self {
        Buffer {
            head,
            tail,
            cols,
            rows: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, row: Vec<Owned>) {
        debug_assert_eq!(row.len(), self.cols);
        self.rows.push(row);
    }

    /// Whether a full statement's worth is waiting.
    pub(crate) fn full(&self) -> bool {
        self.rows.len() >= MAX_PARAMS / self.cols
    }

    /// Writes what is buffered.
    pub(crate) async fn flush(
        &mut self,
        conn: &mut AnyConnection,
        engine: Engine,
    ) -> Result<(), LedgerError> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows: Vec<Vec<Val>> = self
            .rows
            .iter()
            .map(|r| r.iter().map(Owned::val).collect())
            .collect();
        multi_row(conn, engine, self.head, self.tail, self.cols, &rows).await?;
        drop(rows);
        self.rows.clear();
        Ok(())
    }
}
