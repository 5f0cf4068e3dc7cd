//! The API's view of the coin catalogue: the shared, indexed copy
//! (`coinbeat_shared::catalogue::CatalogueCache`, rechecked at most once a second) and how a
//! request names a coin (`Catalogue::name`).

pub use coinbeat_shared::catalogue::{Alternative, Catalogue, NamedCoin};
