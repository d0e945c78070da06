//! Fuzz target: any byte string given to the scenario parser yields Ok or a list of problems, never a panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(scenario) = faultline_engine::parse_scenario(text)
    {
        // A scenario that parses must also build a simulator and survive a few steps.
        if let Ok(mut simulator) = faultline_engine::Simulator::new(&scenario) {
            simulator.run_for(1_000);
        }
    }
});
