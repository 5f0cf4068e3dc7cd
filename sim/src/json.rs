//! JSON objects that keep their keys in insertion order, with values written as raw JSON text so
//! the digits of every number are ours.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;

/// An object serialized in the order its entries were pushed.
#[derive(Debug)]
pub(crate) struct Ordered<K, V>(pub(crate) Vec<(K, V)>);

impl<K: Serialize, V: Serialize> Serialize for Ordered<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A JSON number from text that [`crate::number`] wrote, emitted verbatim.
pub(crate) fn number(text: String) -> Box<RawValue> {
    // Unreachable with `number`'s output; `null` keeps the document valid regardless.
    RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// A JSON string.
pub(crate) fn string(text: &str) -> Box<RawValue> {
    value(&text)
}

/// Any serializable value as raw JSON (`null` for `None`).
pub(crate) fn value<T: Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}
