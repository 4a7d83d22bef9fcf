//! `cargo run -p testkit --bin geoip-fixture -- FILE`: writes the tests'
//! GeoIP2-City database (`testkit::geoip`) for the browser tests and the
//! benchmark, which are not written in Rust.

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: geoip-fixture FILE");
        std::process::exit(2);
    };
    if let Err(error) =
        testkit::geoip::write_database(std::path::Path::new(&path), &testkit::geoip::PLACES)
    {
        eprintln!("cannot write {}: {error}", path.to_string_lossy());
        std::process::exit(1);
    }
}
