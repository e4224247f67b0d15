//! QEMU test harness
