//! `GET`, `POST`, `DELETE /v1/admin/symbols` and `DELETE /v1/admin/symbols/{symbol}` (admin): the tracked
//! set, stored in Redis as an override of `prices.tracked` (`coinbeat_shared::tracked_symbols`),
//! which the price worker (every job without a symbol list, the beat's included) and
//! `GET /v1/prices` honour. Any coin the catalogue lists (or `[prices.coins]` maps) can be added,
//! one (`{"symbol": "PEPE"}`) or many at once (`{"symbols": ["PEPE", "WIF"]}`); a symbol no coin
//! has is refused with 422 `unmappable_symbol` and the reason, and then nothing is added.
//! Removed one at a time (`DELETE .../{symbol}`) or many (`DELETE ...?symbols=ADA,DOT`); a symbol
//! not tracked is 404 `symbol_not_tracked`, and then nothing is removed.

use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
};
use coinbeat_shared::{
    domain::Symbol,
    tracked_symbols::{self, TrackedError},
};
use serde::{Deserialize, Serialize};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{
        Ref, RefOr,
        schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema},
    },
};

use crate::{ApiError, AppState, JsonBody};

/// The body of `POST /v1/admin/symbols`: `symbol` (one) or `symbols` (a list), not both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSymbol {
    symbol: Option<String>,
    symbols: Option<Vec<String>>,
}

/// [`AddSymbol`]'s two shapes, as [`add`] takes them.
impl PartialSchema for AddSymbol {
    fn schema() -> RefOr<Schema> {
        let shape = |name: &str, schema: RefOr<Schema>| {
            ObjectBuilder::new()
                .property(name, schema)
                .required(name)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let symbol = || RefOr::Ref(Ref::from_schema_name(Symbol::name()));
        let many = ArrayBuilder::new()
            .items(symbol())
            .min_items(Some(1))
            .max_items(Some(MAX_ADDED))
            .description(Some("Several, 1 to 1000."));
        OneOfBuilder::new()
            .item(shape("symbol", symbol()))
            .item(shape("symbols", many.into()))
            .description(Some("`symbol` (one) or `symbols` (a list), not both."))
            .into()
    }
}

impl ToSchema for AddSymbol {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Symbol::name().into_owned(), Symbol::schema()));
    }
}

/// The tracked set after a change (or as it is).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TrackedView {
    tracked: Vec<Symbol>,
    /// `redis` (an operator's override) or `settings` (`prices.tracked`).
    #[schema(value_type = String, pattern = "^(redis|settings)$")]
    source: &'static str,
    /// Whether the request changed the set; absent on a read.
    #[serde(skip_serializing_if = "Option::is_none")]
    changed: Option<bool>,
}

/// Most symbols one request may add.
const MAX_ADDED: usize = 1_000;

async fn view(
    state: &AppState,
    status: StatusCode,
    changed: Option<bool>,
) -> Result<Response, ApiError> {
    state.forget_tracked_symbols();
    let tracked = state.tracked_symbols().await?;
    let overridden = state
        .redis(tracked_symbols::is_overridden(state.conn(), state.keys()))
        .await?;
    let body = TrackedView {
        tracked: tracked.to_vec(),
        source: if overridden { "redis" } else { "settings" },
        changed,
    };
    Ok((status, Json(body)).into_response())
}

/// `{"tracked": [...], "source": "redis" | "settings"}`.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    view(&state, StatusCode::OK, None).await
}

/// `{"symbol": "PEPE"}` or `{"symbols": [...]}`: 201 when any was added, 200 when every one
/// was tracked already.
pub async fn add(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<AddSymbol>,
) -> Result<Response, ApiError> {
    let raw: Vec<String> = match (request.symbol, request.symbols) {
        (Some(one), None) => vec![one],
        (None, Some(many)) if !many.is_empty() && many.len() <= MAX_ADDED => many,
        (None, Some(many)) => {
            return Err(ApiError::InvalidSymbols(format!(
                "`symbols` has {} entries; give 1 to {MAX_ADDED}",
                many.len()
            )));
        }
        _ => {
            return Err(ApiError::InvalidBody(
                "give `symbol` (one) or `symbols` (a list), not both".into(),
            ));
        }
    };
    let symbols = raw
        .iter()
        .map(|s| Symbol::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    // Every symbol checked before any is added: a refused request changes nothing.
    let named = crate::routes::prices::named_symbols(&state, &symbols).await?;
    if let Some((symbol, _)) = symbols.iter().zip(&named).find(|(_, n)| n.is_none()) {
        return Err(ApiError::UnmappableSymbol(symbol.clone()));
    }
    let mut added = false;
    for symbol in &symbols {
        let (one, _) = state
            .redis(tracked_symbols::add(
                state.conn(),
                state.keys(),
                &state.settings().prices,
                symbol,
                |_| true,
            ))
            .await?;
        added |= one;
    }
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    view(&state, status, Some(added)).await
}

/// 200 with the set; 404 `symbol_not_tracked` when it was not tracked.
pub async fn remove(
    State(state): State<AppState>,
    symbol: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(raw) = symbol.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let symbol = Symbol::parse(&raw)?;
    let (removed, _) = state
        .redis(tracked_symbols::remove(
            state.conn(),
            state.keys(),
            &state.settings().prices,
            &symbol,
        ))
        .await?;
    if !removed {
        return Err(ApiError::SymbolNotTracked(symbol));
    }
    view(&state, StatusCode::OK, Some(true)).await
}

/// The query of `DELETE /v1/admin/symbols`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RemoveQuery {
    /// The symbols to stop tracking, comma-separated (1 to 1000).
    #[param(schema_with = crate::routes::prices::symbol_list_schema)]
    symbols: String,
}

/// `DELETE /v1/admin/symbols?symbols=ADA,DOT`: stops tracking every symbol named, or none of them
/// (404 `symbol_not_tracked` naming the first that is not tracked).
pub async fn remove_many(
    State(state): State<AppState>,
    query: Result<Query<RemoveQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut symbols: Vec<Symbol> = Vec::new();
    for item in query.symbols.split(',').filter(|s| !s.trim().is_empty()) {
        let symbol = Symbol::parse(item)?;
        if !symbols.contains(&symbol) {
            symbols.push(symbol);
        }
    }
    if symbols.is_empty() || symbols.len() > MAX_ADDED {
        return Err(ApiError::InvalidSymbols(format!(
            "`symbols` names {} symbols; give 1 to {MAX_ADDED}, comma-separated",
            symbols.len()
        )));
    }
    state.forget_tracked_symbols();
    let tracked = state.tracked_symbols().await?;
    if let Some(absent) = symbols.iter().find(|s| !tracked.contains(s)) {
        return Err(ApiError::SymbolNotTracked(absent.clone()));
    }
    for symbol in &symbols {
        state
            .redis(tracked_symbols::remove(
                state.conn(),
                state.keys(),
                &state.settings().prices,
                symbol,
            ))
            .await?;
    }
    view(&state, StatusCode::OK, Some(true)).await
}

impl From<TrackedError> for ApiError {
    fn from(e: TrackedError) -> Self {
        match e {
            TrackedError::Redis(e) => e.into(),
            TrackedError::Unmappable(symbol) => ApiError::UnmappableSymbol(symbol),
        }
    }
}
