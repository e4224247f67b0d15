//! WireGuard protocol engine (Noise_IKpsk2 handshake, sessions, timers, peers).
