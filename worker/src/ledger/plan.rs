//! A command's storage changes, computed before anything is written and committed as one
//! atomic batch. Each change remembers the value it replaces, so [`Plan::undo_except`] restores
//! the ledger exactly when a later step (the KV write of a new token) fails.

use std::collections::BTreeMap;

use crate::store::Batch;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Change {
    before: Option<String>,
    after: Option<String>,
}

#[derive(Debug, Default)]
pub struct Plan {
    changes: BTreeMap<String, Change>,
}

impl Plan {
    /// Sets `key` to `after`; `before` is its current stored value, if any.
    pub fn put(&mut self, key: String, after: String, before: Option<String>) {
        self.change(key, Some(after), before);
    }

    /// Removes `key`, whose current stored value is `before`.
    pub fn delete(&mut self, key: String, before: String) {
        self.change(key, None, Some(before));
    }

    fn change(&mut self, key: String, after: Option<String>, before: Option<String>) {
        // A key changed twice keeps the value from before the first change.
        self.changes
            .entry(key)
            .and_modify(|change| change.after.clone_from(&after))
            .or_insert(Change { before, after });
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The batch that makes the changes.
    pub fn batch(&self) -> Batch {
        Self::batch_of(self.changes.iter().map(|(k, c)| (k, &c.after)))
    }

    /// The batch that restores every changed key to its value before the plan, except keys
    /// starting with `kept`, which keep the plan's value.
    pub fn undo_except(&self, kept: &str) -> Batch {
        Self::batch_of(self.changes.iter().map(|(k, c)| {
            let value = if k.starts_with(kept) {
                &c.after
            } else {
                &c.before
            };
            (k, value)
        }))
    }

    fn batch_of<'a>(values: impl Iterator<Item = (&'a String, &'a Option<String>)>) -> Batch {
        let mut batch = Batch::default();
        for (key, value) in values {
            match value {
                Some(value) => batch.puts.push((key.clone(), value.clone())),
                None => batch.deletes.push(key.clone()),
            }
        }
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_restores_what_was_there() {
        let mut plan = Plan::default();
        plan.put("new".into(), "1".into(), None);
        plan.put("changed".into(), "2".into(), Some("old".into()));
        plan.delete("gone".into(), "was".into());
        assert_eq!(
            plan.batch(),
            Batch {
                puts: vec![("changed".into(), "2".into()), ("new".into(), "1".into())],
                deletes: vec!["gone".into()],
            }
        );
        assert_eq!(
            plan.undo_except("sync:"),
            Batch {
                puts: vec![
                    ("changed".into(), "old".into()),
                    ("gone".into(), "was".into())
                ],
                deletes: vec!["new".into()],
            }
        );
    }

    #[test]
    fn undo_except_keeps_the_named_keys() {
        let mut plan = Plan::default();
        plan.put("token:1".into(), "new".into(), None);
        plan.put("sync:1".into(), "marker".into(), None);
        assert_eq!(
            plan.undo_except("sync:"),
            Batch {
                puts: vec![("sync:1".into(), "marker".into())],
                deletes: vec!["token:1".into()],
            }
        );
    }

    #[test]
    fn a_key_changed_twice_undoes_to_its_first_value() {
        let mut plan = Plan::default();
        plan.put("k".into(), "2".into(), Some("1".into()));
        plan.put("k".into(), "3".into(), Some("2".into()));
        assert_eq!(plan.batch().puts, vec![("k".into(), "3".into())]);
        assert_eq!(
            plan.undo_except("sync:").puts,
            vec![("k".into(), "1".into())]
        );
    }
}
