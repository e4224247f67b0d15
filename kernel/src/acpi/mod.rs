//! The ACPI tables the kernel needs to power off, reset and read the clock.
//!
//! Only a sliver of ACPI: find the RSDP (from Multiboot2 or the BIOS area),
//! follow the XSDT/RSDT to the FADT, read the PM1 control blocks, the reset
//! register and the RTC century index, and find the `\_S5` sleep type in the
//! DSDT's AML without an interpreter (`aml.rs`). Sections refer to the ACPI
//! Specification 6.5. Every table is checksummed before use.

pub mod aml;
pub mod tables;

pub use aml::{find_s5, SleepType};
pub use tables::{find_table, scan_for_rsdp, AcpiError, AddressSpace, Fadt, GenericAddress, Rsdp};

/// What power-off and reset need, gathered once at boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerInfo {
    /// PM1a control block.
    pub pm1a_cnt: GenericAddress,
    /// PM1b control block, when the platform has one.
    pub pm1b_cnt: Option<GenericAddress>,
    /// `\_S5` sleep type values.
    pub s5: Option<SleepType>,
    /// Reset register and the value to write to it.
    pub reset: Option<(GenericAddress, u8)>,
    /// CMOS index of the RTC century register (0: none).
    pub century: u8,
}

/// PM1 control register bits (4.8.3.2.1): SLP_TYP at 10..12, SLP_EN at 13.
pub fn pm1_sleep_value(slp_typ: u8) -> u16 {
    (u16::from(slp_typ & 7) << 10) | (1 << 13)
}

/// Gathers [`PowerInfo`] starting from an RSDP.
pub fn power_info(mem: &dyn crate::boot::PhysMem, rsdp: &Rsdp) -> Result<PowerInfo, AcpiError> {
    let fadt = Fadt::parse(find_table(mem, rsdp, b"FACP")?)?;
    let s5 = tables::sdt(mem, fadt.dsdt)
        .ok()
        .and_then(|dsdt| find_s5(dsdt.get(tables::HEADER_LEN..)?));
    Ok(PowerInfo {
        pm1a_cnt: fadt.pm1a_cnt,
        pm1b_cnt: fadt.pm1b_cnt,
        s5,
        reset: fadt.reset,
        century: fadt.century,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_value_sets_type_and_enable() {
        assert_eq!(pm1_sleep_value(0), 0x2000);
        assert_eq!(pm1_sleep_value(5), 0x3400);
        assert_eq!(pm1_sleep_value(0xff), 0x3c00);
    }
}
