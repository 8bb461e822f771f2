//! The options a state was written for: a JSON object of the command's options, compared
//! whole with the ones of the run at hand. Which options they are, and how each is named to
//! people, is the command's to say (`config::hash`): the state knows no flag.

/// What a state must have been written for: its options text (a JSON object), and how an
/// option's key is named to people — the command's flags, which the state does not know.
pub struct Wanted<'a> {
    pub text: &'a [u8],
    pub name: fn(&str) -> String,
}

/// Which options differ between the `written` options text and the `wanted` one:
/// `--exclude: ["*.o"] then, [] now`, each named by `wanted.name`. Texts that are not both
/// objects are "unknown options".
pub(super) fn differences(written: &[u8], wanted: &Wanted) -> String {
    use serde_json::{Map, Value};
    let object = |text: &[u8]| match serde_json::from_slice::<Value>(text) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    };
    let (Some(then), Some(now)) = (object(written), object(wanted.text)) else {
        return "unknown options".into();
    };
    let absent = Value::Null;
    let get = |m: &Map<String, Value>, k: &str| m.get(k).unwrap_or(&absent).clone();
    let mut keys: Vec<&String> = then.keys().collect();
    keys.extend(now.keys().filter(|k| !then.contains_key(*k)));
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (get(&then, key), get(&now, key));
            (a != b).then(|| format!("{}: {a} then, {b} now", (wanted.name)(key)))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_that_differ_are_named_as_the_command_names_them() {
        let then = br#"{"cwd":"/a","paths":["t"],"exclude":[],"max_depth":null}"#;
        let now = br#"{"paths":["t"],"exclude":["*.o"],"max_depth":2}"#;
        let flags = Wanted {
            text: now,
            name: |k| format!("--{k}"),
        };
        assert_eq!(
            differences(then, &flags),
            r#"--cwd: "/a" then, null now; --exclude: [] then, ["*.o"] now; --max_depth: null then, 2 now"#
        );
        assert_eq!(differences(b"x", &flags), "unknown options");
    }
}
