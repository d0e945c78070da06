//! Inline SVG icons for component kinds (24×24, stroked; no icon font or CDN).
//!
//! Kinds come from the engine's catalog; a kind without an icon here still
//! draws (with `GENERIC_ICON`), and a unit test fails so it gets one.

/// A drawing for kinds this table does not know yet: a plain component box.
pub const GENERIC_ICON: &str = "M4 6 h16 v12 h-16 Z M8 10 h8 M8 14 h5";

/// `(kind, path data)`. Kinds other engineers are adding are listed ahead of
/// time so their palette entries are recognisable the day they land.
const ICONS: &[(&str, &str)] = &[
    // A client sending a key to a ballot box: a Raft KV client.
    (
        "raft_kv_client",
        "M3 9 h7 v6 h-3 l-2 2 v-2 h-2 Z M12 12 h4 M14 10 l2 2 l-2 2 M17 7 h4 v10 h-4 Z",
    ),
    // Three boxes growing in height with an up arrow: scaling out.
    (
        "autoscaler",
        "M3 20 v-4 h4 v4 Z M9 20 v-7 h4 v7 Z M15 20 v-10 h4 v10 Z M5 11 l6 -6 l2 2 l5 -4 M15 3 h3 v3",
    ),
    // A person with motion lines: something that generates load.
    (
        "load_generator",
        "M9 7 a3 3 0 1 0 0.01 0 M3 20 c0 -4 3 -6 6 -6 s6 2 6 6 M17 9 h5 M18 12 h4 M17 15 h5",
    ),
    // A server rack: two stacked units with status lights.
    (
        "sink",
        "M4 4 h16 v7 h-16 Z M4 13 h16 v7 h-16 Z M7 7.5 h.01 M7 16.5 h.01 M11 7.5 h6 M11 16.5 h6",
    ),
    // A crown over a hub: the cluster controller.
    (
        "kafka_controller",
        "M5 9 l2 -5 l5 3 l5 -3 l2 5 Z M12 13 a2 2 0 1 0 0.01 0 M12 15 v5 M6 20 h12 M8 17 l4 -2 l4 2",
    ),
    // A stack of log segments: a broker's partition logs.
    (
        "kafka_broker",
        "M4 5 h16 M4 5 v4 h16 v-4 M4 10 v4 h16 v-4 M4 15 v4 h16 v-4 M7 7 h2 M7 12 h4 M7 17 h6",
    ),
    // A record flying out of a box.
    (
        "kafka_producer",
        "M3 6 h9 v12 h-9 Z M13 12 h8 M18 9 l3 3 l-3 3 M6 10 h3 M6 14 h3",
    ),
    // A record flying into a box.
    (
        "kafka_consumer",
        "M12 6 h9 v12 h-9 Z M2 12 h8 M7 9 l3 3 l-3 3 M15 10 h3 M15 14 h3",
    ),
    // An exchange fanning out to queues.
    (
        "rabbit_exchange",
        "M3 12 h5 M8 12 l4 -6 h8 M8 12 l4 6 h8 M8 12 h12 M6 12 a2 2 0 1 0 0.01 0",
    ),
    (
        "rabbit_broker",
        "M4 7 h16 v10 h-16 Z M7 10 h2 v4 h-2 Z M11 10 h2 v4 h-2 Z M15 10 h2 v4 h-2 Z",
    ),
    (
        "rabbit_queue",
        "M3 8 h18 v8 h-18 Z M7 8 v8 M11 8 v8 M15 8 v8",
    ),
    (
        "rabbit_publisher",
        "M3 6 h9 v12 h-9 Z M13 12 h8 M18 9 l3 3 l-3 3",
    ),
    (
        "rabbit_consumer",
        "M12 6 h9 v12 h-9 Z M2 12 h8 M7 9 l3 3 l-3 3",
    ),
    // Three nodes voting: a consensus member.
    (
        "raft_node",
        "M12 4 a2.5 2.5 0 1 0 0.01 0 M5 16 a2.5 2.5 0 1 0 0.01 0 M19 16 a2.5 2.5 0 1 0 0.01 0 M10.5 8.5 l-4 5.5 M13.5 8.5 l4 5.5 M7.5 18.5 h9",
    ),
    // A hexagon: a generic service.
    (
        "service",
        "M12 3 l8 4.5 v9 l-8 4.5 l-8 -4.5 v-9 Z M12 8 v8 M8 10 l8 4 M16 10 l-8 4",
    ),
    // A gate with a path through it.
    (
        "api_gateway",
        "M4 20 v-12 a8 8 0 0 1 16 0 v12 M9 20 v-8 a3 3 0 0 1 6 0 v8 M2 20 h20",
    ),
    // Balance scales.
    (
        "load_balancer",
        "M12 4 v16 M5 8 h14 M5 8 l-3 6 h6 Z M19 8 l-3 6 h6 Z M8 20 h8",
    ),
    // A cylinder.
    (
        "database",
        "M4 6 c0 -3 16 -3 16 0 v12 c0 3 -16 3 -16 0 Z M4 6 c0 3 16 3 16 0 M4 12 c0 3 16 3 16 0",
    ),
    // A lightning bolt in a box: a cache.
    (
        "cache",
        "M4 4 h16 v16 h-16 Z M13 6 l-5 7 h4 l-1 5 l5 -7 h-4 Z",
    ),
    // A tree of znodes: the coordination service.
    (
        "coord_server",
        "M12 3 a2 2 0 1 0 0.01 0 M5 12 a2 2 0 1 0 0.01 0 M19 12 a2 2 0 1 0 0.01 0 M12 19 a2 2 0 1 0 0.01 0 M11 6 l-5 4 M13 6 l5 4 M19 14 l-6 4",
    ),
    // A key with a session line: a coordination client.
    (
        "coord_client",
        "M7 12 a3 3 0 1 0 0.01 0 M10 12 h10 M17 12 v3 M20 12 v2 M3 5 h6 M3 19 h6",
    ),
    // A disk with a shield notch: storage that checks fencing tokens.
    (
        "fenced_storage",
        "M4 6 c0 -3 12 -3 12 0 v10 c0 3 -12 3 -12 0 Z M4 6 c0 3 12 3 12 0 M17 10 l3 1 v4 c0 2 -3 3 -3 3 c0 0 -3 -1 -3 -3 v-4 Z",
    ),
    // A snowflake: unique ids.
    (
        "snowflake",
        "M12 3 v18 M4 7.5 l16 9 M4 16.5 l16 -9 M10 4.5 l2 2 l2 -2 M10 19.5 l2 -2 l2 2",
    ),
    // A gavel over three ticks: the coordinator that decides commit or abort.
    (
        "txn_coordinator",
        "M5 5 l6 6 M9 3 l4 4 l-3 3 l-4 -4 Z M12 10 l7 7 M4 20 h9 M15 20 l1.5 1.5 l3 -3",
    ),
    // A database cylinder with a padlock: a participant holding locks.
    (
        "txn_participant",
        "M4 6 a6 2.5 0 1 0 12 0 a6 2.5 0 1 0 -12 0 M4 6 v10 a6 2.5 0 0 0 8 2.3 M16 6 v5 M14 15 h7 v6 h-7 Z M15.5 15 v-2 a2 2 0 0 1 4 0 v2",
    ),
    // Three steps forward with an arrow back: a saga and its compensations.
    (
        "saga_orchestrator",
        "M3 8 h4 v4 h-4 Z M10 8 h4 v4 h-4 Z M17 8 h4 v4 h-4 Z M7 10 h3 M14 10 h3 M19 15 v3 h-14 v-3 M7 16 l-2 -1 l2 -1",
    ),
    // A box with an arrow in and an arrow back: a service that can undo.
    (
        "saga_service",
        "M7 5 h10 v14 h-10 Z M2 10 h5 M5 8 l2 2 l-2 2 M17 14 h5 M19 12 l-2 2 l2 2",
    ),
    // Two stacked database cylinders joined by an arrow: a replicated store.
    (
        "kv_database",
        "M3 5 a5 2 0 1 0 10 0 a5 2 0 1 0 -10 0 M3 5 v7 a5 2 0 0 0 10 0 v-7 M11 12 a5 2 0 1 0 10 0 a5 2 0 1 0 -10 0 M11 12 v7 a5 2 0 0 0 10 0 v-7 M14 5 h4 l-1.5 -1.5 M18 5 l-1.5 1.5",
    ),
    // An eye: the sentinel that watches the primary and fails it over.
    (
        "kv_sentinel",
        "M2 12 c4 -7 16 -7 20 0 c-4 7 -16 7 -20 0 Z M12 9 a3 3 0 1 0 0.01 0",
    ),
    // A key with three teeth fanning to shards: a sharding client.
    (
        "kv_client",
        "M6 12 a3 3 0 1 0 0.01 0 M9 12 h5 M14 12 l6 -6 M14 12 h6 M14 12 l6 6",
    ),
    // A database cylinder with an envelope leaving it: a service whose
    // events leave through an outbox (or a dual write).
    (
        "outbox_service",
        "M3 6 a5 2 0 1 0 10 0 a5 2 0 1 0 -10 0 M3 6 v10 a5 2 0 0 0 10 0 v-10 M14 12 h7 v6 h-7 Z M14 12 l3.5 3 l3.5 -3",
    ),
    // An envelope arriving at a checked box: a consumer that applies events.
    (
        "event_consumer",
        "M3 6 h8 v6 h-8 Z M3 6 l4 3 l4 -3 M13 9 h3 M14 14 h7 v7 h-7 Z M15.5 17.5 l1.5 1.5 l3 -3",
    ),
    // Four boxes and a fifth receiving an arrow: a balancer adding a shard.
    (
        "kv_shard_balancer",
        "M3 4 h6 v6 h-6 Z M3 14 h6 v6 h-6 Z M15 4 h6 v6 h-6 Z M15 14 h6 v6 h-6 Z M9 12 h4 M11 10 l2 2 l-2 2",
    ),
];

/// Path data for `kind`'s icon, or `None` when the table has no entry.
pub fn icon_for_kind(kind: &str) -> Option<&'static str> {
    ICONS
        .iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, path)| *path)
}

/// Path data for `kind`'s icon, falling back to `GENERIC_ICON`.
pub fn icon_or_generic(kind: &str) -> &'static str {
    icon_for_kind(kind).unwrap_or(GENERIC_ICON)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faultline_engine::scenario::catalog::component_catalog;

    #[test]
    fn every_engine_kind_has_an_icon() {
        let missing: Vec<String> = component_catalog()
            .into_iter()
            .map(|entry| entry.kind)
            .filter(|kind| icon_for_kind(kind).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "component kinds without an icon in app/src/editor/icons.rs: {missing:?}"
        );
    }

    #[test]
    fn unknown_kinds_fall_back_to_the_generic_icon() {
        assert_eq!(icon_or_generic("no_such_kind"), GENERIC_ICON);
    }
}
