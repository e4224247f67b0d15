//! The serial console's logic: a line editor that turns raw UART bytes into
//! command lines, and a shell that tokenizes and dispatches them.
//!
//! Both are pure state machines fed one byte or one line at a time, so the
//! kernel's poll loop never blocks on the console and the host tests can type
//! at them.

pub mod capture;
pub mod commands;
pub mod gateway;
pub mod iproute;
pub mod job;
pub mod line;
pub mod logfilter;
pub mod netcmds;
pub mod peer;
pub mod ping;
pub mod shell;
pub mod wg;
