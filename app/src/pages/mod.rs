//! One file per route.

mod about;
mod account;
mod activity;
mod admin;
mod home;
mod login;
mod not_found;
mod register;
mod security;
mod sessions;
mod step_up;
mod verify;

pub use about::AboutPage;
pub use account::AccountPage;
pub use activity::ActivityPage;
pub use admin::AdminPage;
pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use register::RegisterPage;
pub use security::SecurityPage;
pub use sessions::SessionsPage;
pub use step_up::StepUpPage;
pub use verify::VerifyPage;
