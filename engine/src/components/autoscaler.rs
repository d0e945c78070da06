//! Horizontal autoscaler for one service (Kubernetes HPA style): polls serving
//! instances for utilisation, scales between min and max with cool-downs and a
//! cold-start delay, and tells callers which instances serve.

use crate::component::{Component, ComponentView, Context, TimerTag};
use crate::components::service::service_instances;
use crate::message::{Envelope, NodeId, Payload};
use crate::scenario::services::AutoscalerSpec;
use crate::scenario::{ComponentSpec, Scenario};
use crate::time::{SimDuration, SimTime};
use std::collections::BTreeMap;

const TIMER_EVALUATE: u32 = 1;
const TIMER_COLD_START_DONE: u32 = 2;

/// HPA skips changes while utilisation is within 10% of the target.
const HPA_TOLERANCE: f64 = 0.1;

#[derive(Clone)]
pub struct Autoscaler {
    spec: AutoscalerSpec,
    instances: Vec<NodeId>,
    instance_names: Vec<String>,
    /// Nodes that may call the service (every service and gateway that is not an instance).
    callers: Vec<NodeId>,
    minimum: usize,
    maximum: usize,
    /// The first `serving` instances serve.
    serving: usize,
    /// A scale-up waiting for its cold start: the count it will reach.
    warming_to: Option<usize>,
    last_scale_up: Option<SimTime>,
    last_change: Option<SimTime>,
    round: u64,
    /// Reports of the current round: instance → (mean in system, workers).
    reports: BTreeMap<NodeId, (f64, u32)>,
    scale_ups: u64,
    scale_downs: u64,
    most_serving: usize,
}

impl Autoscaler {
    pub fn new(
        spec: &AutoscalerSpec,
        scenario: &Scenario,
        node_ids: &BTreeMap<String, NodeId>,
    ) -> Autoscaler {
        let members = service_instances(scenario, &spec.service);
        let instance_names: Vec<String> = members
            .iter()
            .map(|index| scenario.topology.nodes[*index].id.clone())
            .collect();
        let instances: Vec<NodeId> = instance_names
            .iter()
            .filter_map(|name| node_ids.get(name).copied())
            .collect();
        let callers = scenario
            .topology
            .nodes
            .iter()
            .enumerate()
            .filter(|(index, node)| {
                matches!(
                    node.spec,
                    ComponentSpec::Service(_) | ComponentSpec::ApiGateway(_)
                ) && !members.contains(index)
            })
            .filter_map(|(_, node)| node_ids.get(&node.id).copied())
            .collect();
        let maximum = spec
            .max_instances
            .map_or(instances.len(), |max| max as usize)
            .min(instances.len());
        let minimum = Self::initial_serving(spec, instances.len());
        Autoscaler {
            spec: spec.clone(),
            instances,
            instance_names,
            callers,
            minimum,
            maximum,
            serving: minimum,
            warming_to: None,
            last_scale_up: None,
            last_change: None,
            round: 0,
            reports: BTreeMap::new(),
            scale_ups: 0,
            scale_downs: 0,
            most_serving: minimum,
        }
    }

    /// The instances that serve when `serving` of them do (callers start with this too).
    pub fn initial_serving(spec: &AutoscalerSpec, instance_count: usize) -> usize {
        let maximum = spec
            .max_instances
            .map_or(instance_count, |max| max as usize)
            .min(instance_count);
        (spec.min_instances as usize).clamp(1, maximum.max(1))
    }

    fn publish(&self, ctx: &mut Context<'_>) {
        let serving = self.instances[..self.serving].to_vec();
        for caller in &self.callers {
            ctx.send(
                *caller,
                Payload::EndpointsUpdate {
                    service: self.spec.service.clone(),
                    serving: serving.clone(),
                },
                128,
            );
        }
    }

    fn schedule_evaluation(&self, ctx: &mut Context<'_>) {
        ctx.set_timer(
            SimDuration::from_millis(self.spec.evaluation_interval_ms),
            TimerTag {
                kind: TIMER_EVALUATE,
                id: 0,
            },
        );
    }

    fn since(now: SimTime, moment: Option<SimTime>, cooldown_ms: u64) -> bool {
        moment.is_none_or(|moment| now.since(moment) >= SimDuration::from_millis(cooldown_ms))
    }

    fn evaluate(&mut self, ctx: &mut Context<'_>) {
        let now = ctx.now();
        let (load, workers) = self
            .reports
            .values()
            .fold((0.0, 0u64), |(load, workers), (in_system, capacity)| {
                (load + in_system, workers + *capacity as u64)
            });
        if workers > 0 && self.warming_to.is_none() {
            // Queued requests count as demand, so utilisation can exceed 100%.
            let utilisation = load / workers as f64;
            let target = self.spec.target_utilisation_percent / 100.0;
            let ratio = utilisation / target;
            if (ratio - 1.0).abs() > HPA_TOLERANCE {
                let wanted = libm::ceil(self.serving as f64 * ratio) as usize;
                let desired = wanted.clamp(self.minimum, self.maximum);
                if desired > self.serving
                    && Self::since(now, self.last_scale_up, self.spec.scale_up_cooldown_ms)
                {
                    self.warming_to = Some(desired);
                    self.last_scale_up = Some(now);
                    self.last_change = Some(now);
                    self.scale_ups += 1;
                    ctx.state(format!(
                        "autoscale {}: {} -> {} instances (utilisation {:.0}% vs target {:.0}%), serving after a {} ms cold start",
                        self.spec.service,
                        self.serving,
                        desired,
                        utilisation * 100.0,
                        self.spec.target_utilisation_percent,
                        self.spec.cold_start_ms
                    ));
                    ctx.set_timer(
                        SimDuration::from_millis(self.spec.cold_start_ms),
                        TimerTag {
                            kind: TIMER_COLD_START_DONE,
                            id: 0,
                        },
                    );
                } else if desired < self.serving
                    && Self::since(now, self.last_change, self.spec.scale_down_cooldown_ms)
                {
                    self.last_change = Some(now);
                    self.scale_downs += 1;
                    ctx.state(format!(
                        "autoscale {}: {} -> {} instances (utilisation {:.0}% vs target {:.0}%)",
                        self.spec.service,
                        self.serving,
                        desired,
                        utilisation * 100.0,
                        self.spec.target_utilisation_percent
                    ));
                    self.serving = desired;
                    self.publish(ctx);
                }
            }
        }
        // Next round: ask every serving instance.
        self.round += 1;
        self.reports.clear();
        for instance in &self.instances[..self.serving] {
            ctx.send(
                *instance,
                Payload::UtilisationQuery { probe: self.round },
                64,
            );
        }
        self.schedule_evaluation(ctx);
    }
}

impl Component for Autoscaler {
    fn on_start(&mut self, ctx: &mut Context<'_>) {
        self.publish(ctx);
        self.schedule_evaluation(ctx);
    }

    fn on_message(&mut self, _ctx: &mut Context<'_>, envelope: &Envelope) {
        if let Payload::UtilisationReport {
            probe,
            mean_in_system,
            workers,
        } = envelope.payload
            && probe == self.round
        {
            self.reports
                .insert(envelope.from, (mean_in_system, workers));
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_>, tag: TimerTag) {
        match tag.kind {
            TIMER_EVALUATE => self.evaluate(ctx),
            TIMER_COLD_START_DONE => {
                if let Some(target) = self.warming_to.take() {
                    let names = self.instance_names[self.serving..target].join(", ");
                    self.serving = target;
                    self.most_serving = self.most_serving.max(target);
                    ctx.state(format!(
                        "autoscale {}: {names} warmed up, {} instances serve",
                        self.spec.service, self.serving
                    ));
                    self.publish(ctx);
                }
            }
            _ => {}
        }
    }

    fn on_crash(&mut self, _ctx: &mut Context<'_>) {
        // Decisions in flight are lost; callers keep the serving set they
        // were last told (as kube-proxy keeps its rules when the HPA dies).
        self.warming_to = None;
        self.reports.clear();
    }

    fn on_restart(&mut self, ctx: &mut Context<'_>) {
        self.schedule_evaluation(ctx);
    }

    fn view(&self) -> ComponentView {
        ComponentView {
            queue_depth: 0,
            in_progress: self.serving as u64,
            badge: match self.warming_to {
                Some(target) => format!("{} -> {target} warming", self.serving),
                None => format!("{}/{} serving", self.serving, self.instances.len()),
            },
        }
    }

    fn summary(&self, _now: SimTime) -> Vec<(&'static str, f64)> {
        vec![
            ("serving_instances", self.serving as f64),
            ("most_serving_instances", self.most_serving as f64),
            ("scale_ups", self.scale_ups as f64),
            ("scale_downs", self.scale_downs as f64),
        ]
    }
}
