//! One binary, every component: called by the name of a component (`price-worker`,
//! `coinbeat-api`, ...; a symlink to `coinbeat` in the container image), `coinbeat` is that
//! component, running the very `main` its standalone binary runs. The image ships this one
//! binary and a link per [`Component`] instead of a binary each that holds most of the same code.

use std::path::Path;

use crate::component::Component;

/// The component `argv0` names, if it names one.
pub fn service(argv0: &str) -> Option<Component> {
    Path::new(argv0).file_name()?.to_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_named_after_any_component_runs_that_component() {
        for component in Component::all() {
            let link = format!("/usr/local/bin/{component}");
            assert_eq!(service(&link), Some(component));
        }
        assert_eq!(service("coinbeat"), None);
        assert_eq!(service("/usr/bin/price-worker-old"), None);
    }
}
