#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| auth0_api_fuzz::policy(data));
