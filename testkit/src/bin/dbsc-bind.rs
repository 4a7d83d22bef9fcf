//! `cargo run -p testkit --bin dbsc-bind -- BASE SESSION_ID`: binds a
//! signed-in session to a new scripted device key (`testkit::dbsc`) as
//! Chrome would (the offer on `/account`, then `/dbsc/register`) and
//! prints the bound cookie's value. For `make bench` (W1 on a bound
//! session), which is not written in Rust.

use testkit::dbsc::{bound_cookie, registration_offer, Device};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(base), Some(sid)) = (args.next(), args.next()) else {
        eprintln!("usage: dbsc-bind BASE SESSION_ID");
        std::process::exit(2);
    };
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let cookie = format!("__Host-sid={sid}");
    let page = http
        .get(format!("{base}/account"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET /account");
    let Some((challenge, path)) = registration_offer(page.headers()) else {
        eprintln!("no registration offer on /account ({})", page.status());
        std::process::exit(1);
    };
    let res = http
        .post(format!("{base}{path}"))
        .header("cookie", &cookie)
        .header(
            "secure-session-response",
            Device::new().registration_proof(&challenge),
        )
        .send()
        .await
        .expect("POST register");
    match bound_cookie(res.headers()) {
        Some((value, _)) => println!("{value}"),
        None => {
            eprintln!("registration refused: {}", res.status());
            std::process::exit(1);
        }
    }
}
