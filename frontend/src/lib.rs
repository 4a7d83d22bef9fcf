//! The wasm entry point: hydrate the islands of the server-rendered page,
//! nothing else.

// Links the app's islands into this bundle (each `#[island]` exports its
// hydration function from the `app` crate).
use app as _;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
    // Lets end-to-end tests wait for hydration: a click before it is lost.
    if let Some(body) = leptos::prelude::document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
