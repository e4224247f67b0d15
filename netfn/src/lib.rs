//! Ringwall's network function: the WireGuard engine, the gateway packet path
//! and the appliance configuration.
//!
//! `no_std` with `alloc`, and sans-I/O: nothing here reads a clock, a device or
//! a random source directly. Time, packets and randomness come in as arguments;
//! what to do with the result goes out as return values. That keeps all of it
//! testable on the host and lets the kernel's poll loop drive it.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod config;
pub mod gateway;
pub mod hoststack;
pub mod keys;
pub mod prefix;
pub mod simd;
pub mod wireguard;
