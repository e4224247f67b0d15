//! CPU feature detection and enabling (SSE, AVX, AVX-512 state via XCR0).
//!
//! The trampoline already enabled SSE (the compiler uses it everywhere). Here
//! OSXSAVE is switched on and XCR0 gets the AVX/AVX-512 components the CPU
//! supports (SDM vol. 1, 13.3), before any crypto code probes for them.

use core::arch::x86_64::{__cpuid_count, _xgetbv, _xsetbv};

use ringwall_kernel::cpu::{CpuInfo, Cpuid};
use x86_64::registers::control::{Cr4, Cr4Flags};

/// CPUID through the instruction.
pub struct HwCpuid;

impl Cpuid for HwCpuid {
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4] {
        // CPUID exists on every x86_64 processor and has no side effects.
        let r = __cpuid_count(leaf, subleaf);
        [r.eax, r.ebx, r.ecx, r.edx]
    }
}

/// True when CPUID says we run under a hypervisor (leaf 1 ECX bit 31).
pub fn under_hypervisor() -> bool {
    HwCpuid.cpuid(1, 0)[2] & (1 << 31) != 0
}

/// Detects the CPU and enables the extended state it supports; returns the
/// information and the XCR0 value now in effect (0 without XSAVE).
pub fn init() -> (CpuInfo, u64) {
    let info = CpuInfo::detect(&HwCpuid);
    if !info.features.xsave {
        return (info, 0);
    }
    // Safety: setting OSXSAVE is valid because CPUID reports XSAVE; it only
    // permits XGETBV/XSETBV and the XSAVE family.
    unsafe { Cr4::update(|f| f.insert(Cr4Flags::OSXSAVE)) };
    let want = info.wanted_xcr0();
    // Safety: `want` contains only components CPUID leaf 0xD lists as
    // supported, with x87 and SSE set (SDM vol. 1, 13.3 rules for XSETBV).
    unsafe { _xsetbv(0, want) };
    // Safety: OSXSAVE is now set, so XGETBV is allowed.
    let now = unsafe { _xgetbv(0) };
    (info, now)
}
