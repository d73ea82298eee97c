//! Asset pipelines (compat: site-design spec §5.3.1): each segment needs
//! bytes or a string and produces the other, and a wrong input type is an
//! error, exactly as upstream.

use base64::Engine as _;

use crate::model::PipelineSegment;

/// A value flowing through a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Flow {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// Text.
    Text(String),
}

impl Flow {
    /// The final bytes (strings are UTF-8 encoded).
    pub(crate) fn into_bytes(self) -> Vec<u8> {
        match self {
            Flow::Bytes(bytes) => bytes,
            Flow::Text(text) => text.into_bytes(),
        }
    }
}

/// Run one segment; `template` renders a string. Errors carry the original's
/// wording of the failure (`<ExceptionType> - <text>`).
pub(crate) fn run_segment(
    segment: PipelineSegment,
    value: Flow,
    template: &mut dyn FnMut(&str) -> Result<String, String>,
) -> Result<Flow, String> {
    match (segment, value) {
        (PipelineSegment::Base64Decode, Flow::Bytes(bytes)) => decode_base64(&bytes),
        (PipelineSegment::Base64Decode, Flow::Text(text)) => {
            if !text.is_ascii() {
                return Err("ValueError - string argument should contain only ASCII characters".into());
            }
            decode_base64(text.as_bytes())
        }
        (PipelineSegment::Base64Encode, Flow::Bytes(bytes)) => {
            Ok(Flow::Bytes(base64::engine::general_purpose::STANDARD.encode(bytes).into_bytes()))
        }
        (PipelineSegment::Base64Encode, Flow::Text(_)) => Err("TypeError - a bytes-like object is required, not 'str'".into()),
        (PipelineSegment::Utf8Decode, Flow::Bytes(bytes)) => String::from_utf8(bytes).map(Flow::Text).map_err(|error| {
            format!("UnicodeDecodeError - 'utf-8' codec can't decode byte at position {}", error.utf8_error().valid_up_to())
        }),
        (PipelineSegment::Utf8Decode, Flow::Text(_)) => Err("AttributeError - 'str' object has no attribute 'decode'".into()),
        (PipelineSegment::Utf8Encode, Flow::Text(text)) => Ok(Flow::Bytes(text.into_bytes())),
        (PipelineSegment::Utf8Encode, Flow::Bytes(_)) => Err("AttributeError - 'bytes' object has no attribute 'encode'".into()),
        (PipelineSegment::Template, Flow::Text(text)) => template(&text).map(Flow::Text),
        (PipelineSegment::Template, Flow::Bytes(_)) => Err("TypeError - Can't compile non template nodes".into()),
    }
}

/// Python's `base64.b64decode` without validation: characters outside the
/// alphabet are discarded, padding must be right.
fn decode_base64(input: &[u8]) -> Result<Flow, String> {
    let filtered: Vec<u8> =
        input.iter().copied().filter(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')).collect();
    base64::engine::general_purpose::STANDARD
        .decode(&filtered)
        .map(Flow::Bytes)
        .map_err(|_| "binascii.Error - Incorrect padding".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use PipelineSegment::*;

    fn run(segments: &[PipelineSegment], value: Flow) -> Result<Flow, String> {
        let mut upper = |text: &str| Ok(text.to_uppercase());
        segments.iter().try_fold(value, |value, segment| run_segment(*segment, value, &mut upper))
    }

    #[test]
    fn segments_follow_the_spec() {
        let encoded = "aGVs\nbG8=\n".as_bytes().to_vec();
        assert_eq!(run(&[Base64Decode, Utf8Decode, Template], Flow::Bytes(encoded)), Ok(Flow::Text("HELLO".into())));
        assert_eq!(run(&[Utf8Decode, Utf8Encode, Base64Encode], Flow::Bytes(b"hi".to_vec())), Ok(Flow::Bytes(b"aGk=".to_vec())));
        assert!(run(&[Template], Flow::Bytes(b"x".to_vec())).expect_err("bytes").contains("Can't compile non template nodes"));
        assert!(run(&[Utf8Encode], Flow::Bytes(b"x".to_vec())).is_err());
        assert!(run(&[Base64Decode], Flow::Bytes(b"abc".to_vec())).expect_err("padding").contains("Incorrect padding"));
    }
}
