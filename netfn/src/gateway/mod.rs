//! The gateway packet path: classify, encapsulate, decapsulate, neighbours, counters.
