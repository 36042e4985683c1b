//! The integration suite: one binary, each test driving a real server on 127.0.0.1:0 with its
//! own data directory and database.

mod harness;
#[path = "../support/process.rs"]
mod process;
#[path = "../support/raw_http.rs"]
mod raw_http;

mod accounts;
mod admin;
mod architecture;
mod attacks;
mod database_server;
mod delivery;
mod events;
mod hostile;
mod import;
mod lifecycle;
mod mail;
mod media;
mod openapi;
mod schema_changes;
mod search;
mod smtp;
mod ui;
