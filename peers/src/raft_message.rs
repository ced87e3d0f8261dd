//! A two-field protobuf message for raft-engine's entry API (`LogBatch::add_entries`
//! takes protobuf 2 messages): `{ 1: index uint64, 2: data bytes }`, the shape of raft's
//! `eraftpb::Entry` without the fields this comparison does not use. Written by hand so
//! the comparison needs no protobuf code generator; reflection is not implemented.

use std::any::Any;
use std::sync::OnceLock;

use protobuf::reflect::MessageDescriptor;
use protobuf::wire_format::WireType;
use protobuf::{
    CachedSize, Clear, CodedInputStream, CodedOutputStream, Message, ProtobufResult, UnknownFields,
};
use raft_engine::MessageExt;

/// One raft log entry: its index and a 24-byte payload.
#[derive(Clone, Debug, Default)]
pub(crate) struct RaftEntry {
    /// The entry's index in its raft group (contiguous per group).
    pub(crate) index: u64,
    /// The payload.
    pub(crate) data: Vec<u8>,
    unknown: UnknownFields,
    cached_size: CachedSize,
}

impl PartialEq for RaftEntry {
    fn eq(&self, other: &RaftEntry) -> bool {
        self.index == other.index && self.data == other.data
    }
}

impl RaftEntry {
    /// An entry with `index` and `data`.
    #[must_use]
    pub(crate) fn new(index: u64, data: Vec<u8>) -> RaftEntry {
        RaftEntry {
            index,
            data,
            ..RaftEntry::default()
        }
    }

    fn size(&self) -> u32 {
        let mut size = 0;
        if self.index != 0 {
            size += protobuf::rt::value_size(1, self.index, WireType::WireTypeVarint);
        }
        if !self.data.is_empty() {
            size += protobuf::rt::bytes_size(2, &self.data);
        }
        size
    }
}

impl Clear for RaftEntry {
    fn clear(&mut self) {
        self.index = 0;
        self.data.clear();
        self.unknown.clear();
    }
}

impl Message for RaftEntry {
    fn descriptor(&self) -> &'static MessageDescriptor {
        RaftEntry::descriptor_static()
    }

    fn is_initialized(&self) -> bool {
        true
    }

    fn merge_from(&mut self, is: &mut CodedInputStream) -> ProtobufResult<()> {
        while !is.eof()? {
            let (field, wire_type) = is.read_tag_unpack()?;
            match field {
                1 => self.index = is.read_uint64()?,
                2 => is.read_bytes_into(&mut self.data)?,
                _ => is.skip_field(wire_type)?,
            }
        }
        Ok(())
    }

    fn write_to_with_cached_sizes(&self, os: &mut CodedOutputStream) -> ProtobufResult<()> {
        if self.index != 0 {
            os.write_uint64(1, self.index)?;
        }
        if !self.data.is_empty() {
            os.write_bytes(2, &self.data)?;
        }
        Ok(())
    }

    fn compute_size(&self) -> u32 {
        let size = self.size();
        self.cached_size.set(size);
        size
    }

    fn get_cached_size(&self) -> u32 {
        self.cached_size.get()
    }

    fn get_unknown_fields(&self) -> &UnknownFields {
        &self.unknown
    }

    fn mut_unknown_fields(&mut self) -> &mut UnknownFields {
        &mut self.unknown
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn new() -> RaftEntry {
        RaftEntry::default()
    }

    fn default_instance() -> &'static RaftEntry {
        static DEFAULT: OnceLock<RaftEntry> = OnceLock::new();
        DEFAULT.get_or_init(RaftEntry::default)
    }
}

/// The `MessageExt` that tells raft-engine where an entry's index is.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RaftEntryExt;

impl MessageExt for RaftEntryExt {
    type Entry = RaftEntry;

    fn index(entry: &RaftEntry) -> u64 {
        entry.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let entry = RaftEntry::new(7, vec![1; 24]);
        let bytes = entry.write_to_bytes().unwrap();
        assert_eq!(bytes.len(), 2 + 2 + 24);
        assert_eq!(RaftEntry::parse_from_bytes(&bytes).unwrap(), entry);
    }
}
