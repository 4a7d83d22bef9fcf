//! One file per route.

mod account;
mod home;
mod login;
mod not_found;
mod register;

pub use account::AccountPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use register::RegisterPage;
