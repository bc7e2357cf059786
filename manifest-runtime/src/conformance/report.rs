//! How reports print: a `FAIL` line per failed case and, per mismatch, the expected and actual
//! JSON side by side (`sdiff` style: `|` marks a line that differs, `<` and `>` a line only one
//! side has), or one above the other when side by side would be too wide.

use std::fmt;

use serde_json::{Map, Value as Json};

use super::{CaseReport, Mismatch, Outcome};

/// Side by side only when a row fits in this many columns.
const WIDTH: usize = 120;
/// Every block line starts with this.
const INDENT: &str = "    ";

impl fmt::Display for CaseReport {
    /// `PASS|FAIL <file>#<index> <name> [<kind>]`, then each mismatch or the error, indented.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = if self.outcome.is_pass() {
            "PASS"
        } else {
            "FAIL"
        };
        write!(f, "{status} {}#{}", self.file, self.index)?;
        if let Some(name) = &self.name {
            write!(f, " {name}")?;
        }
        write!(f, " [{}]", self.kind)?;
        match &self.outcome {
            Outcome::Pass => Ok(()),
            Outcome::Error(why) => write!(f, "\n  error: {why}"),
            Outcome::Fail { mismatches } => {
                for mismatch in mismatches {
                    write!(f, "\n{mismatch}")?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for Mismatch {
    /// `  <what>` and then the two values, side by side or one above the other.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "  {}", self.what)?;
        let expected = pretty(&self.expected);
        let actual = pretty(&self.actual);
        let labels = ("expected:", "actual:");
        let left = expected
            .iter()
            .map(|l| l.chars().count())
            .chain([labels.0.len()])
            .max()
            .unwrap_or_default();
        let right = actual
            .iter()
            .map(|l| l.chars().count())
            .chain([labels.1.len()])
            .max()
            .unwrap_or_default();
        if INDENT.len() + left + 3 + right > WIDTH {
            write!(f, "\n{INDENT}{}", labels.0)?;
            for line in &expected {
                write!(f, "\n{INDENT}  {line}")?;
            }
            write!(f, "\n{INDENT}{}", labels.1)?;
            for line in &actual {
                write!(f, "\n{INDENT}  {line}")?;
            }
            return Ok(());
        }
        write!(f, "\n{INDENT}{:<left$}   {}", labels.0, labels.1)?;
        for (l, r) in align(&expected, &actual) {
            let mark = match (l, r) {
                (Some(l), Some(r)) if l == r => ' ',
                (Some(_), Some(_)) => '|',
                (Some(_), None) => '<',
                _ => '>',
            };
            let l = l.map_or("", String::as_str);
            let r = r.map_or("", String::as_str);
            let line = format!("{INDENT}{l:<left$} {mark} {r}");
            write!(f, "\n{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// The rows of a side-by-side diff: equal lines (a longest common subsequence) on one row,
/// and between them the remaining lines of both sides paired up, the longer side's extra
/// lines alone.
fn align<'a>(
    left: &'a [String],
    right: &'a [String],
) -> Vec<(Option<&'a String>, Option<&'a String>)> {
    let (n, m) = (left.len(), right.len());
    // lcs[i][j]: the longest common subsequence of left[i..] and right[j..].
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if left[i] == right[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut rows = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut only_left, mut only_right) = (Vec::new(), Vec::new());
    let flush = |rows: &mut Vec<_>, l: &mut Vec<&'a String>, r: &mut Vec<&'a String>| {
        for k in 0..l.len().max(r.len()) {
            rows.push((l.get(k).copied(), r.get(k).copied()));
        }
        l.clear();
        r.clear();
    };
    while i < n || j < m {
        if i < n && j < m && left[i] == right[j] {
            flush(&mut rows, &mut only_left, &mut only_right);
            rows.push((Some(&left[i]), Some(&right[j])));
            i += 1;
            j += 1;
        } else if j == m || (i < n && lcs[i + 1][j] >= lcs[i][j + 1]) {
            only_left.push(&left[i]);
            i += 1;
        } else {
            only_right.push(&right[j]);
            j += 1;
        }
    }
    flush(&mut rows, &mut only_left, &mut only_right);
    rows
}

/// Pretty JSON lines, object keys sorted (so both sides line up whatever their key order).
fn pretty(value: &Json) -> Vec<String> {
    let text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_else(|e| e.to_string());
    text.lines().map(str::to_owned).collect()
}

fn sorted(value: &Json) -> Json {
    match value {
        Json::Array(items) => Json::Array(items.iter().map(sorted).collect()),
        Json::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            Json::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&fields[k])))
                    .collect::<Map<_, _>>(),
            )
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{CaseKind, CaseReport, Mismatch, Outcome};

    fn report(outcome: Outcome) -> CaseReport {
        CaseReport {
            file: "counter.results.json".into(),
            index: 2,
            name: Some("increments".into()),
            kind: CaseKind::Command,
            outcome,
        }
    }

    #[test]
    fn a_failure_shows_expected_and_actual_side_by_side() {
        let mismatch = Mismatch {
            what: "expectedInstanceState".into(),
            expected: json!({"value": 7, "id": "c-1"}),
            actual: json!({"id": "c-1", "value": 6, "extra": true}),
        };
        let text = report(Outcome::Fail {
            mismatches: vec![mismatch],
        })
        .to_string();
        let expected = [
            "FAIL counter.results.json#2 increments [command]",
            "  expectedInstanceState",
            "    expected:        actual:",
            "    {                {",
            "                   >   \"extra\": true,",
            "      \"id\": \"c-1\",     \"id\": \"c-1\",",
            "      \"value\": 7   |   \"value\": 6",
            "    }                }",
        ];
        assert_eq!(text, expected.join("\n"));
    }

    #[test]
    fn wide_values_are_shown_one_above_the_other() {
        let long = "x".repeat(120);
        let text = Mismatch {
            what: "expectedResult.result".into(),
            expected: json!(long),
            actual: json!(1),
        }
        .to_string();
        let expected = format!(
            "  expectedResult.result\n    expected:\n      \"{long}\"\n    actual:\n      1"
        );
        assert_eq!(text, expected);
    }

    #[test]
    fn an_error_is_a_failure_with_its_message() {
        let text = report(Outcome::Error("unknown entity `Nope`".into())).to_string();
        assert_eq!(
            text,
            "FAIL counter.results.json#2 increments [command]\n  error: unknown entity `Nope`"
        );
    }
}
