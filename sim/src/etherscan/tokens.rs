//! The ERC-20 tokens that appear in ledgers: real mainnet contracts with their real decimals
//! (6, 8 and 18), so raw-unit arithmetic is exercised.

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) contract: &'static str,
    pub(crate) name: &'static str,
    pub(crate) symbol: &'static str,
    pub(crate) decimals: u32,
}

pub(crate) const TOKENS: &[Token] = &[
    Token {
        contract: "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48",
        name: "USDC",
        symbol: "USDC",
        decimals: 6,
    },
    Token {
        contract: "0x2260fac5e5542a773aa44fbcfedf7c193bc2c599",
        name: "Wrapped BTC",
        symbol: "WBTC",
        decimals: 8,
    },
    Token {
        contract: "0x6b175474e89094c44da98b954eedeac495271d0f",
        name: "Dai Stablecoin",
        symbol: "DAI",
        decimals: 18,
    },
    Token {
        contract: "0x514910771af9ca656af840dff83e8264ecf986ca",
        name: "ChainLink Token",
        symbol: "LINK",
        decimals: 18,
    },
    Token {
        contract: "0xdac17f958d2ee523a2206206994597c13d831ec7",
        name: "Tether USD",
        symbol: "USDT",
        decimals: 6,
    },
];
