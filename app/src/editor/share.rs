//! Share links: the whole scenario, deflated and base64url-encoded, in the URL fragment.
//!
//! The fragment never reaches a server. Decoding is bounded twice: the
//! fragment length is checked before decoding, and inflation stops at the
//! engine's document size limit, so a hostile link cannot exhaust memory.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use faultline_engine::scenario::limits::MAX_SCENARIO_BYTES;

/// Fragment key: `#s=<data>`.
pub const FRAGMENT_PREFIX: &str = "s=";
/// Longest fragment we create or accept. Browsers take far longer URLs, but
/// chat tools and mail clients start cutting links around here.
pub const MAX_SHARE_FRAGMENT_CHARS: usize = 64 * 1024;
/// Deflate level: the best ratio; scenarios are small, so speed does not matter.
const DEFLATE_LEVEL: u8 = 9;

/// The fragment (without `#`) that carries `scenario_json`, or why it cannot.
pub fn encode_fragment(scenario_json: &str) -> Result<String, String> {
    let compressed = miniz_oxide::deflate::compress_to_vec(scenario_json.as_bytes(), DEFLATE_LEVEL);
    let fragment = format!("{FRAGMENT_PREFIX}{}", URL_SAFE_NO_PAD.encode(compressed));
    if fragment.len() > MAX_SHARE_FRAGMENT_CHARS {
        return Err(format!(
            "this scenario is too large to share as a link: it needs {} characters and links are limited to {MAX_SHARE_FRAGMENT_CHARS}. Download the file and share that instead.",
            fragment.len()
        ));
    }
    Ok(fragment)
}

/// The scenario text carried by a fragment (`s=...`, with or without `#`);
/// `None` when the fragment is not a share link at all.
pub fn decode_fragment(fragment: &str) -> Option<Result<String, String>> {
    let fragment = fragment.strip_prefix('#').unwrap_or(fragment);
    let data = fragment.strip_prefix(FRAGMENT_PREFIX)?;
    Some(decode_data(data))
}

fn decode_data(data: &str) -> Result<String, String> {
    if data.len() > MAX_SHARE_FRAGMENT_CHARS {
        return Err(format!(
            "the share link is {} characters long; links are limited to {MAX_SHARE_FRAGMENT_CHARS}",
            data.len()
        ));
    }
    let compressed = URL_SAFE_NO_PAD
        .decode(data.trim_end_matches('='))
        .map_err(|error| format!("the share link is damaged (not base64url: {error})"))?;
    let bytes = miniz_oxide::inflate::decompress_to_vec_with_limit(&compressed, MAX_SCENARIO_BYTES)
        .map_err(|error| match error.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => format!(
                "the share link unpacks to more than {MAX_SCENARIO_BYTES} bytes, the scenario size limit"
            ),
            _ => "the share link is damaged (its data does not inflate)".to_string(),
        })?;
    String::from_utf8(bytes).map_err(|_| "the share link is damaged (not UTF-8 text)".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_text() {
        let text = r#"{"version":1,"topology":{"nodes":[]},"run":{"seed":1,"duration_ms":1000}}"#;
        let fragment = encode_fragment(text).unwrap();
        assert!(fragment.starts_with("s="));
        assert!(
            fragment
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_=".contains(&byte))
        );
        assert_eq!(
            decode_fragment(&format!("#{fragment}")).unwrap().unwrap(),
            text
        );
    }

    #[test]
    fn other_fragments_are_not_share_links() {
        assert!(decode_fragment("#section-2").is_none());
        assert!(decode_fragment("").is_none());
    }

    #[test]
    fn damaged_links_are_explained() {
        let error = decode_fragment("s=!!!").unwrap().unwrap_err();
        assert!(error.contains("damaged"), "{error}");
        let error = decode_fragment("s=AAAA").unwrap().unwrap_err();
        assert!(error.contains("damaged"), "{error}");
    }

    #[test]
    fn a_decompression_bomb_is_refused() {
        let bomb = vec![b' '; MAX_SCENARIO_BYTES + 10];
        let compressed = miniz_oxide::deflate::compress_to_vec(&bomb, 9);
        let fragment = format!("s={}", URL_SAFE_NO_PAD.encode(compressed));
        assert!(
            fragment.len() < MAX_SHARE_FRAGMENT_CHARS,
            "the bomb itself is small"
        );
        let error = decode_fragment(&fragment).unwrap().unwrap_err();
        assert!(error.contains("size limit"), "{error}");
    }

    #[test]
    fn a_scenario_too_large_for_a_link_is_refused_with_a_reason() {
        // Incompressible text: a pseudo-random walk of letters.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let text: String = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect();
        let error = encode_fragment(&text).unwrap_err();
        assert!(error.contains("too large to share"), "{error}");
    }
}
