//! AMQP exchange routing: direct, fanout, topic (`*` one word, `#` zero or more) and headers (`x-match` all/any).
//!
//! Pure functions over the broker's declared exchanges and bindings, so the
//! routing table can be tested on its own. Semantics follow RabbitMQ's
//! tutorials and `rabbit_exchange_type_topic`: routing keys are split on `.`
//! into words (the empty key has no words; `a..b` has an empty middle word,
//! which `*` matches).

use crate::scenario::limits::MAX_RABBIT_ALTERNATE_HOPS;
use crate::scenario::{
    RabbitBindingSpec, RabbitExchangeSpec, RabbitExchangeType, RabbitHeadersMatch,
};
use std::collections::{BTreeMap, BTreeSet};

/// The words of a routing key or binding key.
fn words(key: &str) -> Vec<&str> {
    if key.is_empty() {
        Vec::new()
    } else {
        key.split('.').collect()
    }
}

/// Does topic binding key `pattern` match `routing_key`?
pub fn topic_matches(pattern: &str, routing_key: &str) -> bool {
    let pattern = words(pattern);
    let key = words(routing_key);
    // Dynamic programming over (pattern position, key position): no
    // exponential backtracking on patterns like `#.#.#.#.x`.
    // matches[p][k]: pattern[p..] matches key[k..].
    let mut matches = vec![vec![false; key.len() + 1]; pattern.len() + 1];
    matches[pattern.len()][key.len()] = true;
    for p in (0..pattern.len()).rev() {
        for k in (0..=key.len()).rev() {
            matches[p][k] = match pattern[p] {
                // Zero words, or one word and stay on `#`.
                "#" => matches[p + 1][k] || (k < key.len() && matches[p][k + 1]),
                "*" => k < key.len() && matches[p + 1][k + 1],
                word => k < key.len() && key[k] == word && matches[p + 1][k + 1],
            };
        }
    }
    matches[0][0]
}

/// Headers exchange: do the message headers satisfy the binding's?
/// Binding headers starting with `x-` are not compared (as in RabbitMQ).
pub fn headers_match(
    binding: &BTreeMap<String, String>,
    x_match: RabbitHeadersMatch,
    message: &BTreeMap<String, String>,
) -> bool {
    let mut compared = binding.iter().filter(|(name, _)| !name.starts_with("x-"));
    match x_match {
        RabbitHeadersMatch::All => compared.all(|(name, value)| message.get(name) == Some(value)),
        RabbitHeadersMatch::Any => compared.any(|(name, value)| message.get(name) == Some(value)),
    }
}

/// Where a publish went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Route {
    /// Destination queues, each once, in name order.
    pub queues: Vec<String>,
    /// Exchanges that routed nothing and passed the message to their alternate exchange.
    pub via_alternate: Vec<String>,
}

/// The routing table of one broker.
#[derive(Clone, Debug, Default)]
pub struct Router {
    exchanges: BTreeMap<String, RabbitExchangeSpec>,
    bindings: Vec<RabbitBindingSpec>,
}

impl Router {
    pub fn new(exchanges: &[RabbitExchangeSpec], bindings: &[RabbitBindingSpec]) -> Router {
        Router {
            exchanges: exchanges
                .iter()
                .map(|exchange| (exchange.name.clone(), exchange.clone()))
                .collect(),
            bindings: bindings.to_vec(),
        }
    }

    pub fn has_exchange(&self, name: &str) -> bool {
        name.is_empty() || self.exchanges.contains_key(name)
    }

    /// Queues `exchange` routes the message to, following alternate exchanges
    /// when it routes nowhere. `queue_exists` says which queues are declared
    /// (and not deleted): bindings to a deleted queue are gone with it, and
    /// the default exchange only routes to existing queues.
    pub fn route(
        &self,
        exchange: &str,
        routing_key: &str,
        headers: &BTreeMap<String, String>,
        queue_exists: impl Fn(&str) -> bool,
    ) -> Route {
        let mut route = Route::default();
        let mut visited = BTreeSet::new();
        let mut current = exchange.to_string();
        for _ in 0..MAX_RABBIT_ALTERNATE_HOPS {
            if !visited.insert(current.clone()) {
                break;
            }
            let queues: BTreeSet<String> = if current.is_empty() {
                // The default exchange: an implicit binding per queue, by name.
                if queue_exists(routing_key) {
                    BTreeSet::from([routing_key.to_string()])
                } else {
                    BTreeSet::new()
                }
            } else {
                let Some(spec) = self.exchanges.get(&current) else {
                    break;
                };
                self.bindings
                    .iter()
                    .filter(|binding| binding.exchange == current && queue_exists(&binding.queue))
                    .filter(|binding| match spec.exchange_type {
                        RabbitExchangeType::Direct => binding.routing_key == routing_key,
                        RabbitExchangeType::Fanout => true,
                        RabbitExchangeType::Topic => {
                            topic_matches(&binding.routing_key, routing_key)
                        }
                        RabbitExchangeType::Headers => {
                            headers_match(&binding.headers, binding.x_match, headers)
                        }
                    })
                    .map(|binding| binding.queue.clone())
                    .collect()
            };
            if !queues.is_empty() {
                route.queues = queues.into_iter().collect();
                return route;
            }
            let alternate = self
                .exchanges
                .get(&current)
                .and_then(|spec| spec.alternate_exchange.clone());
            match alternate {
                Some(next) => {
                    route.via_alternate.push(current);
                    current = next;
                }
                None => break,
            }
        }
        route
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The topic routing table (RabbitMQ tutorial 5 plus the edge cases of
    /// `rabbit_exchange_type_topic`): (binding key, routing key, routes?).
    const TOPIC_TABLE: &[(&str, &str, bool)] = &[
        ("*.orange.*", "quick.orange.rabbit", true),
        ("*.*.rabbit", "quick.orange.rabbit", true),
        ("lazy.#", "lazy.orange.elephant", true),
        ("*.orange.*", "quick.orange.fox", true),
        ("*.*.rabbit", "quick.brown.fox", false),
        ("lazy.#", "lazy", true),
        ("lazy.#", "lazy.", true),
        ("*.orange.*", "orange", false),
        ("*.orange.*", "quick.orange.new.rabbit", false),
        ("*.*.rabbit", "lazy.orange.new.rabbit", false),
        ("lazy.#", "lazy.orange.new.rabbit", true),
        ("#", "", true),
        ("#", "anything.at.all", true),
        ("*", "", false),
        ("*", "one", true),
        ("*", "one.two", false),
        ("a.*", "a", false),
        ("a.*", "a.", true),
        ("#.a", "a", true),
        ("#.a", "x.y.a", true),
        ("#.a", "x.a.y", false),
        ("a.#.b", "a.b", true),
        ("a.#.b", "a.x.y.b", true),
        ("a.#.b", "a.x.y.c", false),
        ("a.*.#", "a", false),
        ("a.*.#", "a.b", true),
        ("a.*.#", "a.b.c.d", true),
        ("#.#", "", true),
        ("#.#", "a.b", true),
        ("#.*.#", "", false),
        ("#.*.#", "a", true),
        ("a..b", "a..b", true),
        ("a.*.b", "a..b", true),
        ("order.created", "order.created", true),
        ("order.created", "order.Created", false),
        ("order.created", "order.created.eu", false),
    ];

    #[test]
    fn topic_routing_table_matches_rabbitmq() {
        for (pattern, key, expected) in TOPIC_TABLE {
            assert_eq!(
                topic_matches(pattern, key),
                *expected,
                "binding {pattern:?} vs routing key {key:?}"
            );
        }
    }

    #[test]
    fn headers_all_and_any() {
        let binding = BTreeMap::from([
            ("format".to_string(), "pdf".to_string()),
            ("type".to_string(), "report".to_string()),
            ("x-match".to_string(), "ignored".to_string()),
        ]);
        let both = BTreeMap::from([
            ("format".to_string(), "pdf".to_string()),
            ("type".to_string(), "report".to_string()),
        ]);
        let one = BTreeMap::from([("format".to_string(), "pdf".to_string())]);
        let wrong = BTreeMap::from([("format".to_string(), "zip".to_string())]);
        assert!(headers_match(&binding, RabbitHeadersMatch::All, &both));
        assert!(!headers_match(&binding, RabbitHeadersMatch::All, &one));
        assert!(headers_match(&binding, RabbitHeadersMatch::Any, &one));
        assert!(!headers_match(&binding, RabbitHeadersMatch::Any, &wrong));
    }
}
