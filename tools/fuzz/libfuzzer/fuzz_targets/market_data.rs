#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tradewind_fuzz::market_data(data));
