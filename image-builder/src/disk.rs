//! The raw disk layout: one MBR, GRUB's BIOS core image in the gap after it,
//! and one FAT partition that is also the UEFI system partition.
//!
//! ```text
//! LBA 0        MBR: GRUB boot.img code (bytes 0..440), partition table, 55 AA
//! LBA 1..      GRUB core.img (diskboot.img + compressed kernel and modules)
//! LBA start..  FAT12/16 partition, type 0xEF, active:
//!                /EFI/BOOT/BOOTX64.EFI   GRUB for UEFI (removable-media path)
//!                /boot/grub/grub.cfg     the menu
//!                /boot/ringwall.elf      the kernel
//!                /boot/ringwall.conf     the appliance config
//!                /boot/ringwall.info     build metadata for `inspect`
//! ```
//!
//! Why this instead of a `grub-mkrescue` ISO hybrid: the ISO carries module
//! directories for both platforms plus a padded EFI image (about 4.5 MB
//! trimmed), and its El Torito/GPT/MBR overlay is more than a USB stick needs.
//! Here both GRUBs are single files with their modules built in, so the whole
//! image is about 1 MB plus the kernel.
//!
//! Legacy BIOS: the MBR code loads LBA 1 (its default `kernel_sector`), which
//! is diskboot.img, whose default blocklist loads the rest of core.img from
//! LBA 2 onwards; `grub-mkimage` fills in the length. That is exactly the
//! "embedded in the MBR gap" case, so no `grub-bios-setup` run against a
//! block device is needed. UEFI: firmware finds the 0xEF partition in the MBR
//! (UEFI 2.x section 5.2.1) and runs the removable-media default loader.

use std::fmt;

/// Bytes per sector: the only sector size GRUB's boot.img handles.
pub const SECTOR: usize = 512;
/// Partitions start on this many sectors (64 KiB): flash-friendly, small gap.
const ALIGN_SECTORS: u64 = 128;
/// MBR type of an EFI system partition (UEFI 2.x table 5-2 "OSType 0xEF").
pub const TYPE_EFI_SYSTEM: u8 = 0xEF;

/// MBR field offsets (UEFI 2.x section 5.2.1, legacy MBR).
mod mbr {
    /// Boot code ends here; a disk signature and the table follow.
    pub const BOOT_CODE_END: usize = 440;
    /// First of four 16-byte partition records.
    pub const TABLE: usize = 446;
    /// Size of one partition record.
    pub const ENTRY: usize = 16;
    /// The 0x55 0xAA signature.
    pub const SIGNATURE: usize = 510;
}

/// GRUB 2 `boot.img` layout (grub-core/boot/i386/pc/boot.S, `kernel_sector`).
const BOOT_KERNEL_SECTOR: usize = 0x5c;
/// GRUB 2 `diskboot.img` blocklist start (grub-core/boot/i386/pc/diskboot.S,
/// `blocklist_default_start`), counted from the end of the first sector.
const DISKBOOT_BLOCKLIST_START: usize = SECTOR - 12;

/// Why the pieces cannot be laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiskError {
    /// `boot.img` is not one 512-byte sector.
    BootImageSize(usize),
    /// `boot.img` does not load LBA 1: not the GRUB layout this expects.
    BootImageSector(u64),
    /// `core.img` does not continue at LBA 2: not the GRUB layout expected.
    CoreImageBlocklist(u64),
    /// The partition is not a whole number of sectors.
    PartitionSize(usize),
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::BootImageSize(n) => {
                write!(f, "GRUB boot.img is {n} bytes, expected {SECTOR}")
            }
            DiskError::BootImageSector(s) => write!(
                f,
                "GRUB boot.img loads its core image from sector {s}, expected 1 (unknown GRUB layout)"
            ),
            DiskError::CoreImageBlocklist(s) => write!(
                f,
                "GRUB core.img continues at sector {s}, expected 2 (unknown GRUB layout)"
            ),
            DiskError::PartitionSize(n) => {
                write!(f, "partition of {n} bytes is not a whole number of sectors")
            }
        }
    }
}

/// Where the partition goes, given the size of GRUB's BIOS core image.
pub fn partition_start(core_len: usize) -> u64 {
    let core_sectors = core_len.div_ceil(SECTOR) as u64;
    (1 + core_sectors).div_ceil(ALIGN_SECTORS) * ALIGN_SECTORS
}

/// The partition size (bytes) for files of the given sizes: FAT12/16 with
/// room for directories, two FATs and a margin, in 32 KiB steps because the
/// FAT is formatted with 2 heads of 32 sectors.
pub fn partition_len(file_lens: &[u64]) -> u64 {
    const STEP: u64 = 32 * 1024;
    let data: u64 = file_lens.iter().map(|l| l.div_ceil(4096) * 4096).sum();
    // Two FAT12 copies cost 3 bytes per 2 KiB-ish of data; 10% plus 128 KiB
    // covers them, the root directory and the subdirectories comfortably.
    let total = data + data / 10 + 128 * 1024;
    total.div_ceil(STEP) * STEP
}

/// Cylinder/head/sector triple for an LBA on the usual 255×63 geometry,
/// saturating at the "beyond CHS" marker for large values.
fn chs(lba: u64) -> [u8; 3] {
    const HEADS: u64 = 255;
    const SPT: u64 = 63;
    let c = lba / (HEADS * SPT);
    if c > 1023 {
        return [0xFE, 0xFF, 0xFF];
    }
    let h = (lba / SPT) % HEADS;
    let s = lba % SPT + 1;
    [h as u8, (s as u8) | (((c >> 8) as u8) << 6), c as u8]
}

/// Lays out the whole disk: MBR from `boot_img`, `core_img` from LBA 1,
/// `partition` at `partition_start(core_img.len())`.
pub fn assemble(boot_img: &[u8], core_img: &[u8], partition: &[u8]) -> Result<Vec<u8>, DiskError> {
    if boot_img.len() != SECTOR {
        return Err(DiskError::BootImageSize(boot_img.len()));
    }
    let kernel_sector = le_u64(&boot_img[BOOT_KERNEL_SECTOR..BOOT_KERNEL_SECTOR + 8]);
    if kernel_sector != 1 {
        return Err(DiskError::BootImageSector(kernel_sector));
    }
    let continues_at = core_img
        .get(DISKBOOT_BLOCKLIST_START..DISKBOOT_BLOCKLIST_START + 8)
        .map(le_u64)
        .unwrap_or(0);
    if continues_at != 2 {
        return Err(DiskError::CoreImageBlocklist(continues_at));
    }
    if !partition.len().is_multiple_of(SECTOR) || partition.is_empty() {
        return Err(DiskError::PartitionSize(partition.len()));
    }
    let start = partition_start(core_img.len());
    let sectors = (partition.len() / SECTOR) as u64;
    let mut disk = vec![0u8; start as usize * SECTOR + partition.len()];

    disk[..mbr::BOOT_CODE_END].copy_from_slice(&boot_img[..mbr::BOOT_CODE_END]);
    let entry = &mut disk[mbr::TABLE..mbr::TABLE + mbr::ENTRY];
    entry[0] = 0x80; // active: some BIOSes only boot a disk with one
    entry[1..4].copy_from_slice(&chs(start));
    entry[4] = TYPE_EFI_SYSTEM;
    entry[5..8].copy_from_slice(&chs(start + sectors - 1));
    entry[8..12].copy_from_slice(&(start as u32).to_le_bytes());
    entry[12..16].copy_from_slice(&(sectors as u32).to_le_bytes());
    disk[mbr::SIGNATURE] = 0x55;
    disk[mbr::SIGNATURE + 1] = 0xAA;

    disk[SECTOR..SECTOR + core_img.len()].copy_from_slice(core_img);
    disk[start as usize * SECTOR..].copy_from_slice(partition);
    Ok(disk)
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// A partition found in an MBR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// Byte offset from the start of the disk.
    pub offset: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Why an image does not look like one of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// Shorter than one sector.
    TooShort,
    /// No 0x55 0xAA at the end of sector 0.
    NoSignature,
    /// No partition of type 0xEF.
    NoEfiPartition,
    /// The 0xEF partition runs past the end of the file.
    Truncated,
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LayoutError::TooShort => "shorter than one disk sector",
            LayoutError::NoSignature => "no MBR boot signature",
            LayoutError::NoEfiPartition => "no EFI system partition in the MBR",
            LayoutError::Truncated => "the EFI system partition runs past the end of the file",
        })
    }
}

/// Finds the EFI system partition of an image from its first sector.
pub fn find_efi_partition(sector0: &[u8], disk_len: u64) -> Result<Partition, LayoutError> {
    if sector0.len() < SECTOR {
        return Err(LayoutError::TooShort);
    }
    if sector0[mbr::SIGNATURE..mbr::SIGNATURE + 2] != [0x55, 0xAA] {
        return Err(LayoutError::NoSignature);
    }
    for i in 0..4 {
        let e = &sector0[mbr::TABLE + i * mbr::ENTRY..mbr::TABLE + (i + 1) * mbr::ENTRY];
        if e[4] != TYPE_EFI_SYSTEM {
            continue;
        }
        let start = u32::from_le_bytes([e[8], e[9], e[10], e[11]]) as u64;
        let sectors = u32::from_le_bytes([e[12], e[13], e[14], e[15]]) as u64;
        let part = Partition {
            offset: start * SECTOR as u64,
            len: sectors * SECTOR as u64,
        };
        if part.offset + part.len > disk_len {
            return Err(LayoutError::Truncated);
        }
        return Ok(part);
    }
    Err(LayoutError::NoEfiPartition)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A boot.img stand-in with GRUB 2.06's `kernel_sector` = 1 at 0x5c.
    fn boot_img() -> Vec<u8> {
        let mut b = vec![0xEBu8; SECTOR];
        b[BOOT_KERNEL_SECTOR..BOOT_KERNEL_SECTOR + 8].copy_from_slice(&1u64.to_le_bytes());
        b
    }

    /// A core.img stand-in whose diskboot blocklist starts at LBA 2.
    fn core_img(len: usize) -> Vec<u8> {
        let mut c = vec![0xCCu8; len];
        c[DISKBOOT_BLOCKLIST_START..DISKBOOT_BLOCKLIST_START + 8]
            .copy_from_slice(&2u64.to_le_bytes());
        c
    }

    #[test]
    fn layout_puts_core_at_lba1_and_partition_aligned_after_it() {
        let core = core_img(150_000); // 293 sectors: LBA 1..=293
        let part = vec![0xAAu8; 64 * SECTOR];
        let disk = assemble(&boot_img(), &core, &part).unwrap();
        assert_eq!(partition_start(core.len()), 384);
        assert_eq!(disk.len(), 384 * SECTOR + part.len());
        assert_eq!(&disk[..440], &boot_img()[..440]);
        assert_eq!(&disk[510..512], &[0x55, 0xAA]);
        assert_eq!(&disk[SECTOR..SECTOR + core.len()], &core[..]);
        assert!(disk[SECTOR + core.len()..384 * SECTOR]
            .iter()
            .all(|b| *b == 0));
        assert_eq!(&disk[384 * SECTOR..], &part[..]);
        // The partition record, byte for byte: active, CHS of LBA 384
        // (c0 h6 s7), type EF, CHS of LBA 447 (c0 h7 s7), LBA 384, 64 sectors.
        assert_eq!(
            &disk[446..462],
            &[0x80, 6, 7, 0, 0xEF, 7, 7, 0, 0x80, 1, 0, 0, 64, 0, 0, 0]
        );
        let found = find_efi_partition(&disk[..SECTOR], disk.len() as u64).unwrap();
        assert_eq!(
            found,
            Partition {
                offset: 384 * 512,
                len: 64 * 512
            }
        );
    }

    #[test]
    fn refuses_grub_layouts_it_does_not_know() {
        let part = vec![0u8; SECTOR];
        let mut boot = boot_img();
        boot[BOOT_KERNEL_SECTOR] = 5;
        assert_eq!(
            assemble(&boot, &core_img(1024), &part),
            Err(DiskError::BootImageSector(5))
        );
        assert_eq!(
            assemble(&boot_img()[..400], &core_img(1024), &part),
            Err(DiskError::BootImageSize(400))
        );
        assert_eq!(
            assemble(&boot_img(), &[0u8; 1024], &part),
            Err(DiskError::CoreImageBlocklist(0))
        );
        assert_eq!(
            assemble(&boot_img(), &core_img(1024), &[0u8; 100]),
            Err(DiskError::PartitionSize(100))
        );
    }

    #[test]
    fn chs_matches_the_255_by_63_convention() {
        assert_eq!(chs(0), [0, 1, 0]);
        assert_eq!(chs(2048), [32, 33, 0]); // what fdisk writes for 1 MiB
        assert_eq!(chs(16_450_559), [254, 0xFF, 0xFF]); // c1023 h254 s63
        assert_eq!(chs(u32::MAX as u64), [0xFE, 0xFF, 0xFF]);
    }

    #[test]
    fn partition_size_covers_the_files_with_margin() {
        let len = partition_len(&[602_112, 40_000, 300, 200]);
        assert_eq!(len % (32 * 1024), 0);
        assert!(len >= 602_112 + 40_960 + 8192 + 128 * 1024);
        assert!(len < 2 * 1024 * 1024);
    }

    #[test]
    fn inspect_refuses_foreign_images() {
        assert_eq!(
            find_efi_partition(&[0u8; 100], 100),
            Err(LayoutError::TooShort)
        );
        let mut s = vec![0u8; SECTOR];
        assert_eq!(find_efi_partition(&s, 512), Err(LayoutError::NoSignature));
        s[510] = 0x55;
        s[511] = 0xAA;
        assert_eq!(
            find_efi_partition(&s, 512),
            Err(LayoutError::NoEfiPartition)
        );
        s[446 + 4] = 0xEF;
        s[446 + 8] = 1;
        s[446 + 12] = 10;
        assert_eq!(find_efi_partition(&s, 512), Err(LayoutError::Truncated));
        assert!(find_efi_partition(&s, 11 * 512).is_ok());
    }
}
