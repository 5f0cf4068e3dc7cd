//! OpenAPI schemas (feature `openapi`) of the domain types whose parsers hand-check their text:
//! each pattern and length limit here is what that parser accepts, so the API's document
//! (api/src/openapi/) refuses exactly what the API refuses. The enums and job payloads derive
//! theirs beside their definitions.

use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        RefOr,
        schema::{ObjectBuilder, Schema, Type},
    },
};

use crate::{
    domain::{Address, CoinId, Symbol},
    jobs::QueueName,
    queue::TaskId,
};

/// `Symbol::parse`: 1 to 15 ASCII letters or digits, any case (it uppercases).
pub const SYMBOL_PATTERN: &str = "^[A-Za-z0-9]{1,15}$";
/// `CoinId::parse`: lowercase letters, digits, `-`, `_`, `.`, starting with a letter or digit.
pub const COIN_ID_PATTERN: &str = "^[a-z0-9][a-z0-9._-]{0,99}$";
/// `Address::parse`: `0x` and 40 hex digits, all of one case. (Mixed case is accepted too when
/// it is the EIP-55 checksummed form, which a pattern cannot check; the description says so.)
pub const ADDRESS_PATTERN: &str = "^0[xX]([0-9a-f]{40}|[0-9A-F]{40})$";
/// A ULID as the `ulid` crate reads it: 26 Crockford base-32 digits (no I, L, O, U; any case),
/// the first at most 7 (128 bits).
pub const ULID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$";
/// `QueueName::parse`.
pub const QUEUE_NAME_PATTERN: &str = "^[a-z0-9_-]{1,64}$";

fn text(pattern: &str, min: usize, max: usize, description: &str, example: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(min))
        .max_length(Some(max))
        .description(Some(description))
        .examples([example])
        .into()
}

impl PartialSchema for Symbol {
    fn schema() -> RefOr<Schema> {
        text(
            SYMBOL_PATTERN,
            1,
            15,
            "A ticker symbol: 1 to 15 ASCII letters or digits (read in any case, shown uppercase).",
            "BTC",
        )
        .into()
    }
}
impl ToSchema for Symbol {}

impl PartialSchema for CoinId {
    fn schema() -> RefOr<Schema> {
        text(
            COIN_ID_PATTERN,
            1,
            100,
            "A coin id: 1 to 100 of a-z, 0-9, `-`, `_` or `.`, starting with a letter or digit.",
            "bitcoin",
        )
        .into()
    }
}
impl ToSchema for CoinId {}

impl PartialSchema for Address {
    fn schema() -> RefOr<Schema> {
        text(
            ADDRESS_PATTERN,
            42,
            42,
            "An EVM address: `0x` and 40 hex digits, all lowercase or all uppercase (mixed case \
             is accepted only as its valid EIP-55 checksummed form); shown lowercase.",
            "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae",
        )
        .into()
    }
}
impl ToSchema for Address {}

impl PartialSchema for TaskId {
    fn schema() -> RefOr<Schema> {
        text(
            ULID_PATTERN,
            26,
            26,
            "A task id: a ULID (26 Crockford base-32 digits).",
            "01JDQ8ZQ3X9V4M6T2R5N7K8P0A",
        )
        .into()
    }
}
impl ToSchema for TaskId {}

impl PartialSchema for QueueName {
    fn schema() -> RefOr<Schema> {
        text(
            QUEUE_NAME_PATTERN,
            1,
            64,
            "A queue name: 1 to 64 of a-z, 0-9, `-` or `_`.",
            "prices",
        )
        .into()
    }
}
impl ToSchema for QueueName {}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of each schema parses: the document's examples are real values.
    #[test]
    fn each_example_parses_with_its_types_parser() {
        let example = |schema: RefOr<Schema>| {
            let schema = serde_json::to_value(schema).unwrap();
            schema["examples"][0].as_str().unwrap().to_owned()
        };
        Symbol::parse(&example(Symbol::schema())).unwrap();
        CoinId::parse(&example(CoinId::schema())).unwrap();
        Address::parse(&example(Address::schema())).unwrap();
        example(TaskId::schema()).parse::<TaskId>().unwrap();
        QueueName::parse(&example(QueueName::schema())).unwrap();
    }
}
