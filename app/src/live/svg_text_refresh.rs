//! Batches the refresh of the numbers drawn inside the topology SVG (node
//! stats, badge pills) while a run plays: they all change together a few
//! times a second instead of every frame.
//!
//! Why: Chrome lays out an SVG root as a whole. Any text change inside it
//! misses the layout cache and re-lays out every node's text; with 200 nodes
//! that is 40–50 ms, three frames. Changing the numbers every frame made
//! every frame that slow (about 10 fps). Numbers that change 60 times a
//! second are unreadable anyway; dashboards refresh a few times a second.
//! So the SVG's text takes new values only when the shared refresh epoch
//! ticks (every `SVG_TEXT_REFRESH_MS` of real time while playing): one slow
//! frame per tick, smooth frames between. Status changes (a crash, a pause,
//! a new leader) are never delayed, and when play stops every node shows
//! the latest value at once. Particles are not affected: they are painted on
//! a canvas (`particle_layer`), which needs no layout.

use crate::driver::SimView;
use crate::live::wall_clock_ms;
use leptos::prelude::*;

/// While playing, the SVG's numbers change at most this often.
pub const SVG_TEXT_REFRESH_MS: f64 = 500.0;

/// The refresh epoch: a number that changes when the SVG's text may change.
#[derive(Clone, Copy)]
pub struct TextRefresh(Memo<i64>);

/// The epoch of wall time `now_ms`.
pub fn refresh_epoch(now_ms: f64) -> i64 {
    (now_ms / SVG_TEXT_REFRESH_MS).floor() as i64
}

/// Provides the shared epoch: re-read whenever a snapshot arrives, so it
/// ticks on a frame that already carries new data.
pub fn provide_text_refresh(sim: SimView) {
    let epoch = Memo::new(move |_| {
        sim.snapshot.track();
        refresh_epoch(wall_clock_ms())
    });
    provide_context(TextRefresh(epoch));
}

/// A memo of `compute` that, while playing, takes a new value only when the
/// shared refresh epoch has ticked (or `urgent(previous, fresh)` says the
/// change must show now); otherwise it keeps the previous value, so nothing
/// inside the SVG changes. Without the driver's context it is a plain memo.
pub fn batched_memo<T>(
    compute: impl Fn() -> T + Send + Sync + 'static,
    urgent: impl Fn(&T, &T) -> bool + Send + Sync + 'static,
) -> Memo<T>
where
    T: Clone + PartialEq + Send + Sync + 'static,
{
    let playing = use_context::<SimView>().map(|sim| sim.playing);
    let epoch = use_context::<TextRefresh>().map(|TextRefresh(epoch)| epoch);
    let shown_epoch = StoredValue::new(None::<i64>);
    Memo::new(move |previous: Option<&T>| {
        let fresh = compute();
        let now_epoch = epoch.map(|epoch| epoch.get());
        let playing = playing.is_some_and(|playing| playing.get());
        let Some(previous) = previous else {
            shown_epoch.set_value(now_epoch);
            return fresh;
        };
        if !playing || *previous == fresh || urgent(previous, &fresh) {
            shown_epoch.set_value(now_epoch);
            return fresh;
        }
        if shown_epoch.get_value() != now_epoch {
            shown_epoch.set_value(now_epoch);
            fresh
        } else {
            previous.clone()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_ticks_a_few_times_a_second_so_most_frames_change_no_svg_text() {
        let frame_ms = 1000.0 / 60.0;
        let ticks = (1..=600)
            .filter(|frame| {
                refresh_epoch(*frame as f64 * frame_ms)
                    != refresh_epoch((*frame - 1) as f64 * frame_ms)
            })
            .count();
        // Ten seconds of frames: one tick per 500 ms.
        assert_eq!(ticks, 20);
    }
}
