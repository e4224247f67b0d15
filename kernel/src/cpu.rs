//! CPU identification from CPUID, decoded on the host-testable side.
//!
//! The kernel executes `cpuid`/`xgetbv` and hands the raw registers to
//! [`CpuInfo::detect`]; what the bits mean (Intel SDM vol. 2A, CPUID; AMD APM
//! vol. 3, appendix E) and which extended state the kernel should switch on in
//! XCR0 is decided here, where tests can feed recorded register values.

use core::fmt;

/// Raw CPUID access: `(leaf, subleaf) -> [eax, ebx, ecx, edx]`.
pub trait Cpuid {
    /// Executes CPUID.
    fn cpuid(&self, leaf: u32, subleaf: u32) -> [u32; 4];
}

/// XCR0 state-component bits (SDM vol. 1, 13.1).
pub mod xcr0 {
    /// x87 state (must always be set).
    pub const X87: u64 = 1 << 0;
    /// SSE (XMM) state.
    pub const SSE: u64 = 1 << 1;
    /// AVX (upper YMM) state.
    pub const AVX: u64 = 1 << 2;
    /// AVX-512 opmask registers.
    pub const OPMASK: u64 = 1 << 5;
    /// AVX-512 upper halves of ZMM0-15.
    pub const ZMM_HI256: u64 = 1 << 6;
    /// AVX-512 ZMM16-31.
    pub const HI16_ZMM: u64 = 1 << 7;
    /// All three AVX-512 components.
    pub const AVX512: u64 = OPMASK | ZMM_HI256 | HI16_ZMM;
}

/// Features the kernel reports or relies on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// SSE3 (leaf 1 ECX bit 0).
    pub sse3: bool,
    /// SSSE3 (leaf 1 ECX bit 9).
    pub ssse3: bool,
    /// SSE4.1 (leaf 1 ECX bit 19).
    pub sse4_1: bool,
    /// SSE4.2 (leaf 1 ECX bit 20).
    pub sse4_2: bool,
    /// AES-NI (leaf 1 ECX bit 25).
    pub aes: bool,
    /// PCLMULQDQ (leaf 1 ECX bit 1).
    pub pclmulqdq: bool,
    /// XSAVE (leaf 1 ECX bit 26).
    pub xsave: bool,
    /// AVX (leaf 1 ECX bit 28).
    pub avx: bool,
    /// RDRAND (leaf 1 ECX bit 30).
    pub rdrand: bool,
    /// AVX2 (leaf 7 EBX bit 5).
    pub avx2: bool,
    /// BMI2 (leaf 7 EBX bit 8).
    pub bmi2: bool,
    /// AVX-512 Foundation (leaf 7 EBX bit 16).
    pub avx512f: bool,
    /// RDSEED (leaf 7 EBX bit 18).
    pub rdseed: bool,
    /// Execute-disable pages (leaf 0x8000_0001 EDX bit 20).
    pub nx: bool,
    /// 1 GiB pages (leaf 0x8000_0001 EDX bit 26).
    pub page1g: bool,
    /// Invariant TSC (leaf 0x8000_0007 EDX bit 8).
    pub invariant_tsc: bool,
}

/// What CPUID says about this processor.
#[derive(Debug, Clone, Copy)]
pub struct CpuInfo {
    /// Vendor string, e.g. `GenuineIntel`.
    pub vendor: [u8; 12],
    /// Brand string (leaves 0x8000_0002..4), NUL padded.
    pub brand: [u8; 48],
    /// Display family.
    pub family: u32,
    /// Display model.
    pub model: u32,
    /// Stepping.
    pub stepping: u32,
    /// Feature flags.
    pub features: Features,
    /// XCR0 components the processor supports (leaf 0xD EAX), when XSAVE exists.
    pub xcr0_supported: u64,
    /// TSC frequency from leaf 0x15 (or 0x16 base MHz), when the CPU tells.
    pub tsc_hz_cpuid: Option<u64>,
}

impl Default for CpuInfo {
    fn default() -> Self {
        CpuInfo {
            vendor: [0; 12],
            brand: [0; 48],
            family: 0,
            model: 0,
            stepping: 0,
            features: Features::default(),
            xcr0_supported: 0,
            tsc_hz_cpuid: None,
        }
    }
}

fn bit(reg: u32, n: u32) -> bool {
    reg & (1 << n) != 0
}

impl CpuInfo {
    /// Decodes CPUID.
    pub fn detect(c: &dyn Cpuid) -> CpuInfo {
        let mut info = CpuInfo::default();
        let [max, b, cx, d] = c.cpuid(0, 0);
        for (i, r) in [b, d, cx].iter().enumerate() {
            info.vendor[i * 4..i * 4 + 4].copy_from_slice(&r.to_le_bytes());
        }
        let f = &mut info.features;
        if max >= 1 {
            let [a, _, ecx, _] = c.cpuid(1, 0);
            let base_family = (a >> 8) & 0xf;
            let base_model = (a >> 4) & 0xf;
            info.stepping = a & 0xf;
            info.family = if base_family == 0xf {
                base_family + ((a >> 20) & 0xff)
            } else {
                base_family
            };
            info.model = if base_family == 0x6 || base_family == 0xf {
                base_model | (((a >> 16) & 0xf) << 4)
            } else {
                base_model
            };
            f.sse3 = bit(ecx, 0);
            f.pclmulqdq = bit(ecx, 1);
            f.ssse3 = bit(ecx, 9);
            f.sse4_1 = bit(ecx, 19);
            f.sse4_2 = bit(ecx, 20);
            f.aes = bit(ecx, 25);
            f.xsave = bit(ecx, 26);
            f.avx = bit(ecx, 28);
            f.rdrand = bit(ecx, 30);
        }
        if max >= 7 {
            let [_, ebx, _, _] = c.cpuid(7, 0);
            f.avx2 = bit(ebx, 5);
            f.bmi2 = bit(ebx, 8);
            f.avx512f = bit(ebx, 16);
            f.rdseed = bit(ebx, 18);
        }
        if max >= 0xd && f.xsave {
            let [a, _, _, d] = c.cpuid(0xd, 0);
            info.xcr0_supported = u64::from(a) | (u64::from(d) << 32);
        }
        if max >= 0x15 {
            // SDM vol. 3B 18.7.3: TSC = crystal * EBX / EAX when all are known.
            let [den, num, crystal, _] = c.cpuid(0x15, 0);
            if den != 0 && num != 0 && crystal != 0 {
                info.tsc_hz_cpuid = Some(u64::from(crystal) * u64::from(num) / u64::from(den));
            }
        }
        if info.tsc_hz_cpuid.is_none() && max >= 0x16 {
            let [base_mhz, _, _, _] = c.cpuid(0x16, 0);
            if base_mhz & 0xffff != 0 {
                info.tsc_hz_cpuid = Some(u64::from(base_mhz & 0xffff) * 1_000_000);
            }
        }
        let [max_ext, _, _, _] = c.cpuid(0x8000_0000, 0);
        if max_ext >= 0x8000_0001 {
            let [_, _, _, edx] = c.cpuid(0x8000_0001, 0);
            f.nx = bit(edx, 20);
            f.page1g = bit(edx, 26);
        }
        if max_ext >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002..=0x8000_0004u32).enumerate() {
                for (j, r) in c.cpuid(leaf, 0).iter().enumerate() {
                    let at = i * 16 + j * 4;
                    info.brand[at..at + 4].copy_from_slice(&r.to_le_bytes());
                }
            }
        }
        if max_ext >= 0x8000_0007 {
            let [_, _, _, edx] = c.cpuid(0x8000_0007, 0);
            f.invariant_tsc = bit(edx, 8);
        }
        info
    }

    /// The XCR0 value to enable: x87 and SSE always, AVX and AVX-512 state when
    /// both the feature and its state components are supported.
    pub fn wanted_xcr0(&self) -> u64 {
        let mut x = xcr0::X87 | xcr0::SSE;
        let sup = self.xcr0_supported;
        if self.features.avx && sup & xcr0::AVX != 0 {
            x |= xcr0::AVX;
            if self.features.avx512f && sup & xcr0::AVX512 == xcr0::AVX512 {
                x |= xcr0::AVX512;
            }
        }
        x
    }

    /// The vendor string.
    pub fn vendor_str(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or("?")
    }

    /// The brand string without padding.
    pub fn brand_str(&self) -> &str {
        let end = self.brand.iter().position(|&b| b == 0).unwrap_or(48);
        core::str::from_utf8(&self.brand[..end])
            .unwrap_or("?")
            .trim()
    }
}

/// Prints the feature list as space-separated names (`sse3 ... invariant-tsc`).
pub struct FeatureList<'a>(pub &'a Features);

impl fmt::Display for FeatureList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        let all = [
            (x.sse3, "sse3"),
            (x.ssse3, "ssse3"),
            (x.sse4_1, "sse4.1"),
            (x.sse4_2, "sse4.2"),
            (x.pclmulqdq, "pclmulqdq"),
            (x.aes, "aes"),
            (x.xsave, "xsave"),
            (x.avx, "avx"),
            (x.avx2, "avx2"),
            (x.bmi2, "bmi2"),
            (x.avx512f, "avx512f"),
            (x.rdrand, "rdrand"),
            (x.rdseed, "rdseed"),
            (x.nx, "nx"),
            (x.page1g, "pdpe1gb"),
            (x.invariant_tsc, "invariant-tsc"),
        ];
        let mut first = true;
        for (on, name) in all {
            if on {
                if !first {
                    f.write_str(" ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Recorded(HashMap<u32, [u32; 4]>);

    impl Cpuid for Recorded {
        fn cpuid(&self, leaf: u32, _subleaf: u32) -> [u32; 4] {
            self.0.get(&leaf).copied().unwrap_or([0; 4])
        }
    }

    /// Leaves modelled on an Intel Core i7-8650U (Kaby Lake R, signature
    /// 0x806ea), trimmed to the registers the decoder reads.
    fn kaby_lake() -> Recorded {
        Recorded(HashMap::from([
            (0x0, [0x16, 0x756e_6547, 0x6c65_746e, 0x4965_6e69]),
            (0x1, [0x0008_06ea, 0x0010_0800, 0x7ffa_fbbf, 0xbfeb_fbff]),
            (0x7, [0, 0x029c_67af, 0, 0x9c00_2400]),
            (0xd, [0x1f, 0x440, 0x440, 0]),
            (0x15, [2, 0x118, 0, 0]),
            (0x16, [0x834, 0x1068, 0x64, 0]),
            (0x8000_0000, [0x8000_0008, 0, 0, 0]),
            (0x8000_0001, [0, 0, 0x121, 0x2c10_0800]),
            (0x8000_0007, [0, 0, 0, 0x100]),
        ]))
    }

    #[test]
    fn decodes_vendor_family_and_features() {
        let info = CpuInfo::detect(&kaby_lake());
        assert_eq!(info.vendor_str(), "GenuineIntel");
        assert_eq!((info.family, info.model, info.stepping), (6, 0x8e, 0xa));
        let f = info.features;
        assert!(f.avx && f.avx2 && f.rdrand && f.rdseed && f.aes && f.xsave);
        assert!(!f.avx512f);
        assert!(f.nx && f.page1g && f.invariant_tsc);
        // Leaf 0x15 has no crystal frequency on this part: fall back to 0x16.
        assert_eq!(info.tsc_hz_cpuid, Some(2_100_000_000));
        let list = FeatureList(&f).to_string();
        assert!(list.starts_with("sse3 ssse3 sse4.1 sse4.2"));
        assert!(list.ends_with("nx pdpe1gb invariant-tsc"));
    }

    #[test]
    fn xcr0_enables_only_supported_state() {
        let mut info = CpuInfo::detect(&kaby_lake());
        // XCR0 mask 0x1f: x87, SSE, AVX, MPX (never requested).
        assert_eq!(info.wanted_xcr0(), 0b111);
        info.features.avx512f = true;
        assert_eq!(info.wanted_xcr0(), 0b111, "no AVX-512 state components");
        info.xcr0_supported = 0xe7;
        assert_eq!(info.wanted_xcr0(), 0xe7);
        info.features.avx = false;
        assert_eq!(info.wanted_xcr0(), 0b11);
    }

    #[test]
    fn crystal_clock_wins_over_base_frequency() {
        let mut r = kaby_lake();
        r.0.insert(0x15, [2, 176, 24_000_000, 0]);
        assert_eq!(CpuInfo::detect(&r).tsc_hz_cpuid, Some(2_112_000_000));
    }
}
