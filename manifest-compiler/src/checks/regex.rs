//! A conservative syntax check of JavaScript regular expressions, for
//! `matches(value, "pattern")`: unbalanced groups or classes, a quantifier
//! with nothing to repeat, and a trailing backslash are rejected.

pub(crate) fn is_valid_js_regex(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the previous item can take a quantifier.
    let mut repeatable = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return false;
                }
                i += 1;
                repeatable = true;
            }
            '[' => {
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                while i < chars.len() && chars[i] != ']' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= chars.len() {
                    return false;
                }
                repeatable = true;
            }
            '(' => {
                depth += 1;
                if chars.get(i + 1) == Some(&'?') {
                    i += 1;
                    if !matches!(chars.get(i + 1), Some(':' | '=' | '!' | '<')) {
                        return false;
                    }
                }
                repeatable = false;
            }
            ')' => {
                if depth == 0 {
                    return false;
                }
                depth -= 1;
                repeatable = true;
            }
            '*' | '+' | '?' => {
                if !repeatable {
                    return false;
                }
                if chars.get(i + 1) == Some(&'?') {
                    i += 1;
                }
                repeatable = false;
            }
            '|' | '^' | '$' => repeatable = matches!(chars[i], '$'),
            _ => repeatable = true,
        }
        i += 1;
    }
    depth == 0
}

#[cfg(test)]
mod tests {
    use super::is_valid_js_regex;

    #[test]
    fn rejects_broken_patterns() {
        assert!(is_valid_js_regex("^[a-z]+@[a-z]+\\.com$"));
        assert!(is_valid_js_regex("(a|b)*c?"));
        assert!(!is_valid_js_regex("[abc"));
        assert!(!is_valid_js_regex("(abc"));
        assert!(!is_valid_js_regex("*abc"));
        assert!(!is_valid_js_regex("abc\\"));
    }
}
