//! Depth checks on JSON done without recursion, so a hostile document cannot overflow the
//! stack before it is refused.

use serde_json::Value as Json;

/// The JSON path (`a.b[2].c`) of the first array or object of `json` nested deeper than
/// `cap` (`json` itself is at depth 1), found without recursion; `None` if there is none.
pub fn json_path_past(json: &Json, cap: usize) -> Option<String> {
    enum Key<'a> {
        Root,
        Field(&'a str),
        Index(usize),
    }
    // Every value seen: its key and its parent's index, to write the path from.
    let mut seen: Vec<(Key<'_>, usize)> = vec![(Key::Root, 0)];
    let mut stack: Vec<(&Json, usize, usize)> = vec![(json, 1, 0)];
    while let Some((j, depth, at)) = stack.pop() {
        // Only arrays and objects nest: a scalar inside `cap` of them is within the limit.
        if depth > cap && matches!(j, Json::Array(_) | Json::Object(_)) {
            let mut keys = Vec::new();
            let mut i = at;
            while i != 0 {
                keys.push(i);
                i = seen[i].1;
            }
            let mut path = String::new();
            for &i in keys.iter().rev() {
                match &seen[i].0 {
                    Key::Field(k) => {
                        if !path.is_empty() {
                            path.push('.');
                        }
                        path.push_str(k);
                    }
                    Key::Index(n) => path.push_str(&format!("[{n}]")),
                    Key::Root => {}
                }
            }
            return Some(path);
        }
        // Pushed in reverse, so the first child is looked at first.
        match j {
            Json::Array(items) => {
                for (n, item) in items.iter().enumerate().rev() {
                    seen.push((Key::Index(n), at));
                    stack.push((item, depth + 1, seen.len() - 1));
                }
            }
            Json::Object(fields) => {
                for (k, v) in fields.iter().rev() {
                    seen.push((Key::Field(k), at));
                    stack.push((v, depth + 1, seen.len() - 1));
                }
            }
            _ => {}
        }
    }
    None
}

/// Drop `json` without recursion (dropping deeply nested JSON the usual way overflows the
/// stack).
pub fn drop_deep(json: Json) {
    let mut stack = vec![json];
    while let Some(j) = stack.pop() {
        match j {
            Json::Array(items) => stack.extend(items),
            Json::Object(fields) => stack.extend(fields.into_iter().map(|(_, v)| v)),
            _ => {}
        }
    }
}
