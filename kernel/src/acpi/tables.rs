//! RSDP, XSDT/RSDT and FADT parsing (ACPI 6.5, chapter 5.2).

use crate::boot::PhysMem;
use crate::bytes::{u32_at, u64_at};

/// Length of the common System Description Table header (5.2.6).
pub const HEADER_LEN: usize = 36;
/// Largest table accepted (a DSDT is tens of KiB; this bounds a bad length).
const MAX_TABLE: u32 = 4 << 20;

/// Why an ACPI table could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcpiError {
    /// No RSDP signature where one was expected.
    NoRsdp,
    /// A checksum did not add up to zero.
    BadChecksum([u8; 4]),
    /// A table is shorter than its fixed fields.
    Truncated([u8; 4]),
    /// A table's memory could not be read.
    Unreadable(u64),
    /// The root table does not list the wanted table.
    NotFound([u8; 4]),
    /// A table had another signature than the pointer promised.
    WrongSignature([u8; 4]),
}

fn checksum_ok(b: &[u8]) -> bool {
    b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0
}

/// The Root System Description Pointer (5.2.5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rsdp {
    /// 0 for ACPI 1.0, 2 for 2.0 and later.
    pub revision: u8,
    /// Physical address of the RSDT.
    pub rsdt: u32,
    /// Physical address of the XSDT (revision 2+ only).
    pub xsdt: Option<u64>,
}

impl Rsdp {
    /// Parses and checksums an RSDP.
    pub fn parse(b: &[u8]) -> Result<Rsdp, AcpiError> {
        const SIG: [u8; 4] = *b"RSD ";
        if b.get(..8) != Some(b"RSD PTR ") {
            return Err(AcpiError::NoRsdp);
        }
        let v1 = b.get(..20).ok_or(AcpiError::Truncated(SIG))?;
        if !checksum_ok(v1) {
            return Err(AcpiError::BadChecksum(SIG));
        }
        let revision = b[15];
        let rsdt = u32_at(b, 16).ok_or(AcpiError::Truncated(SIG))?;
        let mut xsdt = None;
        if revision >= 2 {
            let len = u32_at(b, 20).ok_or(AcpiError::Truncated(SIG))? as usize;
            let full = b.get(..len.max(36)).ok_or(AcpiError::Truncated(SIG))?;
            if !checksum_ok(full) {
                return Err(AcpiError::BadChecksum(SIG));
            }
            xsdt = u64_at(b, 24).filter(|&x| x != 0);
        }
        Ok(Rsdp {
            revision,
            rsdt,
            xsdt,
        })
    }
}

/// Finds an RSDP in a BIOS memory area (`area` starts at physical `base`):
/// the signature sits on a 16-byte boundary (5.2.5.1). Returns its address.
pub fn scan_for_rsdp(area: &[u8], base: u64) -> Option<u64> {
    (0..area.len().saturating_sub(20))
        .step_by(16)
        .find(|&i| Rsdp::parse(&area[i..]).is_ok())
        .map(|i| base + i as u64)
}

/// Reads the whole table at `addr`, checking its length and checksum.
pub fn sdt(mem: &dyn PhysMem, addr: u64) -> Result<&[u8], AcpiError> {
    let head = mem
        .read(addr, HEADER_LEN)
        .ok_or(AcpiError::Unreadable(addr))?;
    let mut sig = [0; 4];
    sig.copy_from_slice(&head[..4]);
    let len = u32_at(head, 4).unwrap_or(0);
    if (len as usize) < HEADER_LEN || len > MAX_TABLE {
        return Err(AcpiError::Truncated(sig));
    }
    let table = mem
        .read(addr, len as usize)
        .ok_or(AcpiError::Unreadable(addr))?;
    if !checksum_ok(table) {
        return Err(AcpiError::BadChecksum(sig));
    }
    Ok(table)
}

/// Finds the table with signature `sig` through the XSDT (or the RSDT).
pub fn find_table<'m>(
    mem: &'m dyn PhysMem,
    rsdp: &Rsdp,
    sig: &[u8; 4],
) -> Result<&'m [u8], AcpiError> {
    let (root, width) = match rsdp.xsdt {
        Some(x) => (sdt(mem, x)?, 8),
        None => (sdt(mem, rsdp.rsdt.into())?, 4),
    };
    for entry in root[HEADER_LEN..].chunks_exact(width) {
        let addr = if width == 8 {
            u64_at(entry, 0)
        } else {
            u32_at(entry, 0).map(u64::from)
        };
        let Some(addr) = addr else { continue };
        if let Some(head) = mem.read(addr, 4) {
            if head == sig {
                return sdt(mem, addr);
            }
        }
    }
    Err(AcpiError::NotFound(*sig))
}

/// Which address space a [`GenericAddress`] lives in (5.2.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSpace {
    /// System memory (MMIO).
    Memory,
    /// System I/O ports.
    Io,
    /// PCI configuration space or anything else: not used here.
    Other(u8),
}

/// A Generic Address Structure (5.2.3.2), reduced to what is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericAddress {
    /// The address space.
    pub space: AddressSpace,
    /// Register width in bits.
    pub bit_width: u8,
    /// The address (port number for I/O).
    pub address: u64,
}

impl GenericAddress {
    fn parse(b: &[u8]) -> Option<GenericAddress> {
        let space = match *b.first()? {
            0 => AddressSpace::Memory,
            1 => AddressSpace::Io,
            o => AddressSpace::Other(o),
        };
        let address = u64_at(b, 4)?;
        (address != 0).then_some(GenericAddress {
            space,
            bit_width: *b.get(1)?,
            address,
        })
    }

    fn io(port: u32, bits: u8) -> Option<GenericAddress> {
        (port != 0).then_some(GenericAddress {
            space: AddressSpace::Io,
            bit_width: bits,
            address: port.into(),
        })
    }
}

/// The fields of the Fixed ACPI Description Table (5.2.9) the kernel uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fadt {
    /// Physical address of the DSDT (X_DSDT preferred).
    pub dsdt: u64,
    /// PM1a control block.
    pub pm1a_cnt: GenericAddress,
    /// PM1b control block, if any.
    pub pm1b_cnt: Option<GenericAddress>,
    /// Reset register and value, when RESET_REG_SUP is set.
    pub reset: Option<(GenericAddress, u8)>,
    /// CMOS RTC century index (0: none).
    pub century: u8,
}

/// FADT field offsets (table 5.9).
mod fadt {
    pub const DSDT: usize = 40;
    pub const PM1A_CNT_BLK: usize = 64;
    pub const PM1B_CNT_BLK: usize = 68;
    pub const PM1_CNT_LEN: usize = 89;
    pub const CENTURY: usize = 108;
    pub const FLAGS: usize = 112;
    pub const RESET_REG: usize = 116;
    pub const RESET_VALUE: usize = 128;
    pub const X_DSDT: usize = 140;
    pub const X_PM1A_CNT_BLK: usize = 172;
    pub const X_PM1B_CNT_BLK: usize = 184;
    /// Flags bit 10: the reset register is supported.
    pub const RESET_REG_SUP: u32 = 1 << 10;
}

impl Fadt {
    /// Parses a checksummed FADT (as returned by [`find_table`]).
    pub fn parse(t: &[u8]) -> Result<Fadt, AcpiError> {
        const SIG: [u8; 4] = *b"FACP";
        if t.get(..4) != Some(&SIG) {
            return Err(AcpiError::WrongSignature(SIG));
        }
        let short = AcpiError::Truncated(SIG);
        let bits = t.get(fadt::PM1_CNT_LEN).map_or(16, |l| l * 8);
        // The 64-bit fields exist only in longer (ACPI 2.0+) tables and win
        // when non-zero (5.2.9).
        let x_dsdt = u64_at(t, fadt::X_DSDT).filter(|&a| a != 0);
        let dsdt = x_dsdt.unwrap_or(u64::from(u32_at(t, fadt::DSDT).ok_or(short)?));
        let x_pm1a = t
            .get(fadt::X_PM1A_CNT_BLK..)
            .and_then(GenericAddress::parse);
        let pm1a_cnt = x_pm1a
            .or_else(|| GenericAddress::io(u32_at(t, fadt::PM1A_CNT_BLK)?, bits))
            .ok_or(short)?;
        let x_pm1b = t
            .get(fadt::X_PM1B_CNT_BLK..)
            .and_then(GenericAddress::parse);
        let pm1b_cnt = x_pm1b.or_else(|| GenericAddress::io(u32_at(t, fadt::PM1B_CNT_BLK)?, bits));
        let flags = u32_at(t, fadt::FLAGS).unwrap_or(0);
        let reset = if flags & fadt::RESET_REG_SUP != 0 {
            let reg = t.get(fadt::RESET_REG..).and_then(GenericAddress::parse);
            reg.zip(t.get(fadt::RESET_VALUE).copied())
        } else {
            None
        };
        Ok(Fadt {
            dsdt,
            pm1a_cnt,
            pm1b_cnt,
            reset,
            century: t.get(fadt::CENTURY).copied().unwrap_or(0),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::boot::testmem::FakeMem;

    /// Sets the checksum byte at `at` so that `b` sums to zero.
    pub fn fix_checksum(b: &mut [u8], at: usize) {
        b[at] = 0;
        let sum = b.iter().fold(0u8, |s, &x| s.wrapping_add(x));
        b[at] = 0u8.wrapping_sub(sum);
    }

    /// An SDT with `sig` and `body`, checksummed.
    pub fn table(sig: &[u8; 4], rev: u8, body: &[u8]) -> Vec<u8> {
        let mut t = vec![0u8; HEADER_LEN];
        t[..4].copy_from_slice(sig);
        t[4..8].copy_from_slice(&((HEADER_LEN + body.len()) as u32).to_le_bytes());
        t[8] = rev;
        t[10..16].copy_from_slice(b"BOCHS ");
        t.extend_from_slice(body);
        fix_checksum(&mut t, 9);
        t
    }

    /// A FADT modelled on QEMU 7.2's for `-M pc` (PIIX4 PM control at I/O
    /// 0x604, RTC century at CMOS 0x32) plus the reset register `-M q35`
    /// declares (I/O 0xcf9, value 6), reduced to the fields read here.
    pub fn qemu_pc_fadt(dsdt: u32) -> Vec<u8> {
        let mut body = vec![0u8; 244 - HEADER_LEN];
        let put32 = |b: &mut Vec<u8>, at: usize, v: u32| {
            b[at - HEADER_LEN..at - HEADER_LEN + 4].copy_from_slice(&v.to_le_bytes())
        };
        put32(&mut body, fadt::DSDT, dsdt);
        put32(&mut body, fadt::PM1A_CNT_BLK, 0x604);
        body[fadt::PM1_CNT_LEN - HEADER_LEN] = 2;
        body[fadt::CENTURY - HEADER_LEN] = 0x32;
        put32(&mut body, fadt::FLAGS, 0x0000_04a5);
        let reset = fadt::RESET_REG - HEADER_LEN;
        body[reset..reset + 12].copy_from_slice(&[1, 8, 0, 0, 0xf9, 0x0c, 0, 0, 0, 0, 0, 0]);
        body[fadt::RESET_VALUE - HEADER_LEN] = 6;
        table(b"FACP", 3, &body)
    }

    #[test]
    fn rsdp_v1_and_v2_checksums() {
        let mut v1 = b"RSD PTR \0BOCHS \0\0\0\0\0".to_vec();
        v1[16..20].copy_from_slice(&0x1fe_1234u32.to_le_bytes());
        fix_checksum(&mut v1, 8);
        let r = Rsdp::parse(&v1).unwrap();
        assert_eq!((r.revision, r.rsdt, r.xsdt), (0, 0x1fe_1234, None));
        v1[17] ^= 1;
        assert_eq!(Rsdp::parse(&v1), Err(AcpiError::BadChecksum(*b"RSD ")));

        let mut v2 = b"RSD PTR \0BOCHS \x02".to_vec();
        v2.resize(36, 0);
        v2[20..24].copy_from_slice(&36u32.to_le_bytes());
        v2[24..32].copy_from_slice(&0x7fb_e000u64.to_le_bytes());
        fix_checksum(&mut v2[..20], 8);
        fix_checksum(&mut v2, 32);
        let r = Rsdp::parse(&v2).unwrap();
        assert_eq!(r.xsdt, Some(0x7fb_e000));
        assert_eq!(Rsdp::parse(&v2[..30]), Err(AcpiError::Truncated(*b"RSD ")));
        assert_eq!(Rsdp::parse(b"RSD PTX "), Err(AcpiError::NoRsdp));
    }

    #[test]
    fn bios_area_scan_finds_aligned_signature_only() {
        let mut area = vec![0u8; 0x200];
        let mut rsdp = b"RSD PTR \0BOCHS \0\x00\x10\x00\x00".to_vec();
        fix_checksum(&mut rsdp, 8);
        area[0x108..0x108 + 20].copy_from_slice(&rsdp);
        assert_eq!(scan_for_rsdp(&area, 0xf_0000), None, "not 16-byte aligned");
        area[0x150..0x150 + 20].copy_from_slice(&rsdp);
        assert_eq!(scan_for_rsdp(&area, 0xf_0000), Some(0xf_0150));
    }

    #[test]
    fn rsdt_leads_to_a_parsed_fadt() {
        let mut mem = FakeMem::new(0x100_0000, 0x10000);
        let fadt = qemu_pc_fadt(0x100_4000);
        mem.put(0x100_2000, &fadt);
        let mut rsdt_body = Vec::new();
        rsdt_body.extend_from_slice(&0x100_3000u32.to_le_bytes());
        rsdt_body.extend_from_slice(&0x100_2000u32.to_le_bytes());
        mem.put(0x100_3000, &table(b"APIC", 1, &[0; 8]));
        mem.put(0x100_1000, &table(b"RSDT", 1, &rsdt_body));
        let rsdp = Rsdp {
            revision: 0,
            rsdt: 0x100_1000,
            xsdt: None,
        };
        let t = find_table(&mem, &rsdp, b"FACP").unwrap();
        let f = Fadt::parse(t).unwrap();
        assert_eq!(f.dsdt, 0x100_4000);
        assert_eq!(
            f.pm1a_cnt,
            GenericAddress {
                space: AddressSpace::Io,
                bit_width: 16,
                address: 0x604
            }
        );
        assert_eq!(f.pm1b_cnt, None);
        let (reg, val) = f.reset.unwrap();
        assert_eq!((reg.space, reg.address, val), (AddressSpace::Io, 0xcf9, 6));
        assert_eq!(f.century, 0x32);
        assert_eq!(
            find_table(&mem, &rsdp, b"HPET"),
            Err(AcpiError::NotFound(*b"HPET"))
        );
        // A corrupted table is refused, not half-read.
        mem.bytes[0x2000 + 70] ^= 0xff;
        assert_eq!(
            find_table(&mem, &rsdp, b"FACP"),
            Err(AcpiError::BadChecksum(*b"FACP"))
        );
    }

    #[test]
    fn xsdt_and_power_info_with_s5() {
        let mut mem = FakeMem::new(0x100_0000, 0x10000);
        mem.put(0x100_2000, &qemu_pc_fadt(0x100_4000));
        let aml = [
            0x08, b'_', b'S', b'5', b'_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00,
        ];
        mem.put(0x100_4000, &table(b"DSDT", 1, &aml));
        mem.put(0x100_1000, &table(b"XSDT", 1, &0x100_2000u64.to_le_bytes()));
        let rsdp = Rsdp {
            revision: 2,
            rsdt: 0,
            xsdt: Some(0x100_1000),
        };
        let p = super::super::power_info(&mem, &rsdp).unwrap();
        assert_eq!(p.s5, Some(super::super::SleepType { a: 0, b: 0 }));
        assert_eq!(p.pm1a_cnt.address, 0x604);
        assert_eq!(p.century, 0x32);
    }
}
