//! Pronounceable coin names and the tickers derived from them, as pure functions of a few random
//! draws: `Zorbix`, `Kelvara Protocol`, `Baby Drimo`, with tickers such as `ZOR`, `KELV`, `ZRBX`
//! or `KELP`. Real catalogues read like this: a made-up word, sometimes a suffix, and a ticker of
//! two to six letters cut from the name.

use crate::rng;

/// Syllable parts; repeated entries make the common sounds more likely.
const ONSETS: &[&str] = &[
    "b", "br", "c", "ch", "cr", "d", "dr", "f", "fl", "g", "gr", "h", "j", "k", "kr", "l", "m",
    "n", "p", "pl", "pr", "qu", "r", "s", "sh", "sk", "st", "t", "th", "tr", "v", "w", "x", "z",
    "k", "l", "m", "n", "r", "s", "t", "v", "z",
];
const VOWELS: &[&str] = &[
    "a", "e", "i", "o", "u", "a", "e", "o", "a", "i", "ai", "ea", "io", "y",
];
const CODAS: &[&str] = &[
    "", "", "", "", "", "n", "r", "l", "x", "s", "m", "k", "th", "nd", "rk", "x", "n",
];
/// The second word some names carry.
const SUFFIXES: &[&str] = &[
    "Protocol", "Network", "Finance", "Token", "Coin", "Chain", "DAO", "Swap", "AI", "Labs", "Inu",
    "Cash", "Verse", "Games", "Dollar", "Capital", "Exchange", "Pay", "Fi", "Bridge",
];
/// What a copycat adds to the name it copies.
pub(super) const COPYCAT_SUFFIXES: &[&str] =
    &["Classic", "Inu", "2.0", "Gold", "Cash", "AI", "Token"];

/// How many draws one name and its ticker use; callers give each coin this many counters.
pub(super) const DRAWS: u64 = 16;

/// Draws come from `(seed, stream, base - k)` for `k` in `0..DRAWS`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Draws {
    pub(super) seed: u64,
    pub(super) stream: u64,
    pub(super) base: u64,
}

impl Draws {
    fn unit(self, k: u64) -> f64 {
        rng::unit(self.seed, self.stream, self.base - k)
    }

    fn pick<'a>(self, k: u64, from: &[&'a str]) -> &'a str {
        from[(self.unit(k) * from.len() as f64) as usize % from.len()]
    }
}

/// A made-up name: one capitalised word of two or three syllables, sometimes with a suffix word
/// (40%) or a `Baby` in front (3%).
pub(super) fn name(d: Draws) -> String {
    let syllables = if d.unit(0) < 0.6 { 2 } else { 3 };
    let mut word = String::new();
    for s in 0..syllables {
        let k = 1 + 3 * s;
        if s == 0 || d.unit(k) < 0.85 {
            word.push_str(d.pick(k, ONSETS));
        }
        word.push_str(d.pick(k + 1, VOWELS));
        // Inner syllables close less often, so words stay pronounceable.
        if s + 1 == syllables || d.unit(k + 2) < 0.3 {
            word.push_str(d.pick(k + 2, CODAS));
        }
    }
    let word = capitalise(&word);
    let shape = d.unit(10);
    if shape < 0.4 {
        format!("{word} {}", d.pick(11, SUFFIXES))
    } else if shape < 0.43 {
        format!("Baby {word}")
    } else {
        word
    }
}

/// The ticker a name suggests: upper case letters cut from its main word in one of a few ways
/// real projects use (first three or four letters, the consonants, the whole short word, the word
/// and the suffix's initial, or just two letters). Two to six characters.
pub(super) fn ticker(name: &str, d: Draws) -> String {
    let (main, suffix) = main_word(name);
    let letters: Vec<char> = main.chars().map(|c| c.to_ascii_uppercase()).collect();
    let cut = |n: usize| letters.iter().take(n).collect::<String>();
    let style = d.unit(12);
    let ticker = if style < 0.40 {
        cut(3)
    } else if style < 0.65 {
        cut(4)
    } else if style < 0.80 {
        skeleton(&letters)
    } else if style < 0.90 {
        if letters.len() <= 6 { cut(6) } else { cut(5) }
    } else if style < 0.95 {
        match suffix.and_then(|s| s.chars().next()) {
            Some(initial) => format!("{}{}", cut(3), initial.to_ascii_uppercase()),
            None => cut(3),
        }
    } else {
        cut(2)
    };
    if name.starts_with("Baby ") {
        format!("B{}", ticker.chars().take(4).collect::<String>())
    } else {
        ticker
    }
}

/// Other tickers for the same name, tried in order when the first is taken: longer cuts, the
/// consonants, then the first letters with a digit, as projects do when their ticker is taken.
pub(super) fn alternatives(name: &str) -> Vec<String> {
    let (main, _) = main_word(name);
    let letters: Vec<char> = main.chars().map(|c| c.to_ascii_uppercase()).collect();
    let cut = |n: usize| letters.iter().take(n).collect::<String>();
    let mut out: Vec<String> = (3..=6).filter(|&n| n <= letters.len()).map(cut).collect();
    out.push(skeleton(&letters));
    for digit in 2..=9 {
        out.push(format!("{}{digit}", cut(3)));
        out.push(format!("{}{digit}", cut(4)));
    }
    out
}

/// A last resort when every alternative is taken: four to six random letters. Uses the counters
/// `base - DRAWS - 8 * attempt - (0..=6)`.
pub(super) fn random_ticker(d: Draws, attempt: u64) -> String {
    let at = |i: u64| rng::bits(d.seed, d.stream, d.base - DRAWS - 8 * attempt - i);
    let len = 4 + at(0) % 3;
    (1..=len)
        .map(|i| char::from(b'A' + (at(i) % 26) as u8))
        .collect()
}

/// The word a ticker is cut from (the one after `Baby`), and the suffix word if any.
fn main_word(name: &str) -> (&str, Option<&str>) {
    let mut words = name.split(' ').filter(|w| *w != "Baby");
    let main = words.next().unwrap_or(name);
    (main, words.next())
}

/// The first letter and the consonants after it, up to four letters (`ZORBIX` → `ZRBX`); the
/// first three letters when that is shorter than three.
fn skeleton(letters: &[char]) -> String {
    let mut out: String = letters.iter().take(1).collect();
    out.extend(
        letters
            .iter()
            .skip(1)
            .filter(|c| !"AEIOUY".contains(**c))
            .take(3),
    );
    if out.len() < 3 {
        letters.iter().take(3).collect()
    } else {
        out
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(stream: u64) -> Draws {
        Draws {
            seed: 7,
            stream,
            base: u64::MAX - 1_000,
        }
    }

    #[test]
    fn names_are_capitalised_words_and_tickers_are_two_to_six_upper_case_characters() {
        let mut lengths = std::collections::BTreeSet::new();
        for stream in 0..2_000 {
            let name = name(draws(stream));
            assert!(name.chars().next().unwrap().is_ascii_uppercase(), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " .".contains(c)),
                "{name}"
            );
            let ticker = ticker(&name, draws(stream));
            assert!((2..=6).contains(&ticker.len()), "{name} → {ticker}");
            assert!(
                ticker.chars().all(|c| c.is_ascii_uppercase()),
                "{name} → {ticker}"
            );
            lengths.insert(ticker.len());
        }
        assert_eq!(
            lengths.len(),
            5,
            "every length from 2 to 6 occurs: {lengths:?}"
        );
    }

    #[test]
    fn tickers_are_cut_from_the_name() {
        assert_eq!(skeleton(&['Z', 'O', 'R', 'B', 'I', 'X']), "ZRBX");
        assert_eq!(skeleton(&['A', 'E', 'O']), "AEO");
        assert_eq!(main_word("Baby Drimo"), ("Drimo", None));
        assert_eq!(main_word("Kelvara Protocol"), ("Kelvara", Some("Protocol")));
        let alternatives = alternatives("Kelvara Protocol");
        assert_eq!(alternatives[..4], ["KEL", "KELV", "KELVA", "KELVAR"]);
        assert!(alternatives.contains(&"KEL2".to_owned()));
    }

    #[test]
    fn the_same_draws_give_the_same_name() {
        assert_eq!(name(draws(5)), name(draws(5)));
        assert_ne!(name(draws(5)), name(draws(6)));
    }
}
