//! One journal record per line: `{crc32:08x} {json}\n`, the JSON being a snapshot or a command. A
//! line is whole and checksummed, so a torn write shows as a bad last line, and damage anywhere else
//! shows as a bad line before the tail.
use serde::{Deserialize, Serialize};

use crate::engine::{Command, Snapshot};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// The whole state: always the first record of a compacted journal.
    Snapshot(Snapshot),
    Command(Command),
}

/// The line for `record`, newline included.
pub fn encode(record: &Record) -> Vec<u8> {
    // A Record holds only strings, numbers and plain enums: serialising it cannot fail.
    let json = serde_json::to_string(record).unwrap_or_default();
    format!("{:08x} {json}\n", crc32(json.as_bytes())).into_bytes()
}

/// The record on one line (without its newline), or why it is not one.
pub fn decode(line: &[u8]) -> Result<Record, String> {
    let text = std::str::from_utf8(line).map_err(|_| "not UTF-8".to_string())?;
    let (sum, json) = text
        .split_once(' ')
        .ok_or_else(|| "no checksum".to_string())?;
    let sum = u32::from_str_radix(sum, 16).map_err(|_| format!("bad checksum field {sum:?}"))?;
    if sum != crc32(json.as_bytes()) || text.len() < 10 {
        return Err("checksum mismatch".to_string());
    }
    serde_json::from_str(json).map_err(|e| format!("not a record: {e}"))
}

/// CRC-32 (IEEE 802.3, as zlib and PNG use).
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Op;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn records_round_trip_and_damage_is_caught() {
        let line = encode(&Record::Command(Command {
            now: 5,
            op: Op::Tick,
        }));
        assert!(line.ends_with(b"\n"));
        let body = &line[..line.len() - 1];
        assert!(matches!(decode(body), Ok(Record::Command(c)) if c.now == 5));
        let mut flipped = body.to_vec();
        let last = flipped.len() - 2;
        flipped[last] ^= 1;
        assert!(decode(&flipped).is_err());
        assert!(decode(&body[..body.len() / 2]).is_err());
        assert!(decode(b"").is_err());
        assert!(decode(b"zzzzzzzz {}").is_err());
    }
}
