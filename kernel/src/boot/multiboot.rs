//! Multiboot v1 and Multiboot2 boot information parsing.
//!
//! v1: "The Multiboot Specification version 0.6.96", 3.3 (boot information
//! format). v2: "Multiboot2 Specification version 2.0", 3.6 (boot information).
//! Both are read field by field from little-endian bytes with bounds checks, so
//! a broken or hostile info block yields an error or fewer entries, never a
//! fault.

use super::PhysMem;
use crate::bytes::{u32_at, u64_at};
use crate::mem::{MemoryMap, MemoryRegion, RegionKind};

/// EAX value a Multiboot v1 loader passes.
pub const MAGIC_V1: u32 = 0x2bad_b002;
/// EAX value a Multiboot2 loader passes.
pub const MAGIC_V2: u32 = 0x36d7_6289;
/// Most modules kept.
pub const MAX_MODULES: usize = 8;
/// Longest string (command line, module name) read.
const MAX_STR: usize = 4096;

/// Which protocol booted the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Multiboot v1 (QEMU `-kernel`).
    V1,
    /// Multiboot2 (GRUB `multiboot2`).
    V2,
}

/// Why the boot information could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootError {
    /// EAX held neither Multiboot magic.
    BadMagic(u32),
    /// The info block is not in readable memory.
    Unreadable(u64),
    /// A Multiboot2 total size too small or absurd.
    BadSize(u32),
}

/// A boot module (e.g. the configuration file).
#[derive(Debug, Clone, Copy)]
pub struct Module<'a> {
    /// Physical start.
    pub start: u64,
    /// Its bytes.
    pub bytes: &'a [u8],
    /// The string the loader attached (GRUB: the arguments after the path;
    /// QEMU: the file name).
    pub name: &'a str,
}

/// Everything the kernel uses from the boot loader.
#[derive(Debug, Clone, Copy)]
pub struct BootInfo<'a> {
    /// The protocol used.
    pub protocol: Protocol,
    /// Where the info block itself lies (start, length), to keep it reserved.
    pub info_range: (u64, u64),
    /// The command line (empty when none).
    pub cmdline: &'a str,
    /// The boot loader's name, when given.
    pub loader: &'a str,
    /// The memory map.
    pub memory: MemoryMap,
    /// Modules in load order.
    pub modules: [Option<Module<'a>>; MAX_MODULES],
    /// Modules beyond [`MAX_MODULES`] or unreadable, not kept.
    pub modules_dropped: usize,
    /// The RSDP bytes the loader copied (Multiboot2 tags 14/15).
    pub rsdp: Option<&'a [u8]>,
}

impl<'a> BootInfo<'a> {
    fn empty(protocol: Protocol, info_range: (u64, u64)) -> Self {
        BootInfo {
            protocol,
            info_range,
            cmdline: "",
            loader: "",
            memory: MemoryMap::new(),
            modules: [None; MAX_MODULES],
            modules_dropped: 0,
            rsdp: None,
        }
    }

    /// The modules present.
    pub fn modules(&self) -> impl Iterator<Item = &Module<'a>> {
        self.modules.iter().flatten()
    }

    /// The command line's options.
    pub fn options(&self) -> super::Cmdline<'a> {
        super::Cmdline(self.cmdline)
    }

    fn add_module(&mut self, m: Option<Module<'a>>) {
        match (m, self.modules.iter_mut().find(|s| s.is_none())) {
            (Some(m), Some(slot)) => *slot = Some(m),
            _ => self.modules_dropped += 1,
        }
    }
}

/// Parses the info block at `addr` handed over with `magic`.
pub fn parse(mem: &dyn PhysMem, magic: u32, addr: u64) -> Result<BootInfo<'_>, BootError> {
    match magic {
        MAGIC_V1 => parse_v1(mem, addr),
        MAGIC_V2 => parse_v2(mem, addr),
        other => Err(BootError::BadMagic(other)),
    }
}

/// Multiboot v1 info flag bits (spec 3.3).
mod v1 {
    pub const MEM: u32 = 1 << 0;
    pub const CMDLINE: u32 = 1 << 2;
    pub const MODS: u32 = 1 << 3;
    pub const MMAP: u32 = 1 << 6;
    pub const LOADER_NAME: u32 = 1 << 9;
    /// Bytes of the fixed info structure read (up to `boot_loader_name`).
    pub const INFO_LEN: usize = 68;
}

fn parse_v1(mem: &dyn PhysMem, addr: u64) -> Result<BootInfo<'_>, BootError> {
    let info = mem
        .read(addr, v1::INFO_LEN)
        .ok_or(BootError::Unreadable(addr))?;
    let field = |at| u32_at(info, at).unwrap_or(0);
    let flags = field(0);
    let mut bi = BootInfo::empty(Protocol::V1, (addr, v1::INFO_LEN as u64));
    if flags & v1::CMDLINE != 0 {
        bi.cmdline = mem.read_cstr(field(16).into(), MAX_STR).unwrap_or("");
    }
    if flags & v1::LOADER_NAME != 0 {
        bi.loader = mem.read_cstr(field(64).into(), MAX_STR).unwrap_or("");
    }
    if flags & v1::MODS != 0 {
        let (count, table) = (field(20), u64::from(field(24)));
        for i in 0..u64::from(count.min(64)) {
            let m = mem.read(table + 16 * i, 16).and_then(|e| {
                let (start, end) = (u32_at(e, 0)?, u32_at(e, 4)?);
                let len = end.checked_sub(start)? as usize;
                Some(Module {
                    start: start.into(),
                    bytes: mem.read(start.into(), len)?,
                    name: mem.read_cstr(u32_at(e, 8)?.into(), MAX_STR).unwrap_or(""),
                })
            });
            bi.add_module(m);
        }
    }
    if flags & v1::MMAP != 0 {
        let (len, base) = (u64::from(field(44)), u64::from(field(48)));
        let mut off = 0u64;
        // Each entry starts with its size, which does not count itself.
        while off + 24 <= len {
            let Some(e) = mem.read(base + off, 24) else {
                break;
            };
            let (Some(size), Some(start), Some(rlen), Some(kind)) =
                (u32_at(e, 0), u64_at(e, 4), u64_at(e, 12), u32_at(e, 20))
            else {
                break;
            };
            bi.memory.push(MemoryRegion {
                start,
                len: rlen,
                kind: RegionKind::from_multiboot(kind),
            });
            off += u64::from(size.max(20)) + 4;
        }
    } else if flags & v1::MEM != 0 {
        // Only the two totals (KiB): lower from 0, upper from 1 MiB.
        bi.memory.push(MemoryRegion {
            start: 0,
            len: u64::from(field(4)) * 1024,
            kind: RegionKind::Usable,
        });
        bi.memory.push(MemoryRegion {
            start: 0x10_0000,
            len: u64::from(field(8)) * 1024,
            kind: RegionKind::Usable,
        });
    }
    Ok(bi)
}

/// Multiboot2 tag types (spec 3.6).
mod tag {
    pub const END: u32 = 0;
    pub const CMDLINE: u32 = 1;
    pub const LOADER_NAME: u32 = 2;
    pub const MODULE: u32 = 3;
    pub const MMAP: u32 = 6;
    pub const ACPI_OLD: u32 = 14;
    pub const ACPI_NEW: u32 = 15;
}

fn tag_str(body: &[u8]) -> &str {
    let end = body.iter().position(|&b| b == 0).unwrap_or(body.len());
    core::str::from_utf8(&body[..end]).unwrap_or("")
}

fn parse_v2(mem: &dyn PhysMem, addr: u64) -> Result<BootInfo<'_>, BootError> {
    let head = mem.read(addr, 8).ok_or(BootError::Unreadable(addr))?;
    let total = u32_at(head, 0).unwrap_or(0);
    if !(16..=1 << 20).contains(&total) {
        return Err(BootError::BadSize(total));
    }
    let info = mem
        .read(addr, total as usize)
        .ok_or(BootError::Unreadable(addr))?;
    let mut bi = BootInfo::empty(Protocol::V2, (addr, total.into()));
    let mut off = 8usize;
    let mut new_rsdp = false;
    while off + 8 <= info.len() {
        let (Some(ty), Some(size)) = (u32_at(info, off), u32_at(info, off + 4)) else {
            break;
        };
        let size = size as usize;
        if ty == tag::END || size < 8 || off + size > info.len() {
            break;
        }
        let body = &info[off + 8..off + size];
        match ty {
            tag::CMDLINE => bi.cmdline = tag_str(body),
            tag::LOADER_NAME => bi.loader = tag_str(body),
            tag::MODULE => {
                let m = (|| {
                    let (start, end) = (u32_at(body, 0)?, u32_at(body, 4)?);
                    let len = end.checked_sub(start)? as usize;
                    Some(Module {
                        start: start.into(),
                        bytes: mem.read(start.into(), len)?,
                        name: tag_str(body.get(8..)?),
                    })
                })();
                bi.add_module(m);
            }
            tag::MMAP => {
                let esize = u32_at(body, 0).unwrap_or(0) as usize;
                if esize >= 24 {
                    for e in body[8..].chunks_exact(esize) {
                        let (Some(start), Some(len), Some(kind)) =
                            (u64_at(e, 0), u64_at(e, 8), u32_at(e, 16))
                        else {
                            break;
                        };
                        bi.memory.push(MemoryRegion {
                            start,
                            len,
                            kind: RegionKind::from_multiboot(kind),
                        });
                    }
                }
            }
            // Prefer the ACPI 2.0+ RSDP when both are given.
            tag::ACPI_NEW => {
                bi.rsdp = Some(body);
                new_rsdp = true;
            }
            tag::ACPI_OLD if !new_rsdp => bi.rsdp = Some(body),
            _ => {}
        }
        off += (size + 7) & !7;
    }
    Ok(bi)
}

#[cfg(test)]
mod tests {
    use super::super::testmem::FakeMem;
    use super::*;

    fn le32(v: u32) -> [u8; 4] {
        v.to_le_bytes()
    }

    /// A hand-built v1 info block with the fields QEMU's `-kernel` loader
    /// fills (hw/i386/multiboot.c): command line, loader name, one module,
    /// e820 map entries of size 20 (the values of a `-m 32M` boot).
    fn qemu_v1() -> FakeMem {
        let mut m = FakeMem::new(0x9000, 0x10_0000);
        let flags = v1::MEM | v1::CMDLINE | v1::MODS | v1::MMAP | v1::LOADER_NAME;
        m.put(0x9500, &le32(flags));
        m.put(0x9504, &le32(639));
        m.put(0x9508, &le32(31 * 1024));
        m.put(0x9510, &le32(0x9600));
        m.put(0x9514, &le32(1));
        m.put(0x9518, &le32(0x9700));
        m.put(0x952c, &le32(2 * 24));
        m.put(0x9530, &le32(0x9800));
        m.put(0x9540, &le32(0x9680));
        m.put(0x9600, b"/tmp/kernel panic=halt\0");
        m.put(0x9680, b"qemu\0");
        m.put(0x9700, &le32(0x2_0000));
        m.put(0x9704, &le32(0x2_0005));
        m.put(0x9708, &le32(0x9690));
        m.put(0x9690, b"/tmp/ringwall.conf\0");
        m.put(0x2_0000, b"[LAN]");
        for (i, (start, len, ty)) in [(0u64, 0x9fc00u64, 1u32), (0x10_0000, 0x1ee_0000, 1)]
            .iter()
            .enumerate()
        {
            let at = 0x9800 + 24 * i as u64;
            m.put(at, &le32(20));
            m.put(at + 4, &start.to_le_bytes());
            m.put(at + 12, &len.to_le_bytes());
            m.put(at + 20, &le32(*ty));
        }
        m
    }

    #[test]
    fn v1_reads_cmdline_modules_and_map() {
        let mem = qemu_v1();
        let bi = parse(&mem, MAGIC_V1, 0x9500).unwrap();
        assert_eq!(bi.protocol, Protocol::V1);
        assert_eq!(bi.cmdline, "/tmp/kernel panic=halt");
        assert_eq!(bi.options().get("panic"), Some("halt"));
        assert_eq!(bi.loader, "qemu");
        let mods: Vec<_> = bi.modules().collect();
        assert_eq!(mods.len(), 1);
        assert_eq!(mods[0].bytes, b"[LAN]");
        assert_eq!(mods[0].name, "/tmp/ringwall.conf");
        assert_eq!(bi.memory.regions().len(), 2);
        assert_eq!(bi.memory.usable_bytes(), 0x9fc00 + 0x1ee_0000);
        assert!(bi.rsdp.is_none());
    }

    #[test]
    fn v1_falls_back_to_mem_totals_and_survives_bad_pointers() {
        let mut mem = qemu_v1();
        mem.put(0x9500, &le32(v1::MEM | v1::MODS));
        mem.put(0x9518, &le32(0xdead_0000));
        let bi = parse(&mem, MAGIC_V1, 0x9500).unwrap();
        assert_eq!(bi.memory.usable_bytes(), (639 + 31 * 1024) * 1024);
        assert_eq!(bi.modules().count(), 0);
        assert_eq!(bi.modules_dropped, 1);
        assert_eq!(
            parse(&mem, MAGIC_V1, 0x1000).unwrap_err(),
            BootError::Unreadable(0x1000)
        );
        assert_eq!(
            parse(&mem, 0x1234, 0x9500).unwrap_err(),
            BootError::BadMagic(0x1234)
        );
    }

    /// Appends one Multiboot2 tag, padded to 8 bytes.
    fn tag(out: &mut Vec<u8>, ty: u32, body: &[u8]) {
        out.extend_from_slice(&le32(ty));
        out.extend_from_slice(&le32(8 + body.len() as u32));
        out.extend_from_slice(body);
        while !out.len().is_multiple_of(8) {
            out.push(0);
        }
    }

    /// A hand-built v2 info block with the tags GRUB 2.06 passes for
    /// `multiboot2 /ringwall panic=halt` + `module2 /ringwall.conf config`
    /// (command line, loader name, module, memory map, both RSDP copies) and
    /// one tag type the parser does not use.
    fn grub_v2() -> FakeMem {
        let mut info = vec![0u8; 8];
        tag(&mut info, tag::CMDLINE, b"panic=halt\0");
        tag(&mut info, tag::LOADER_NAME, b"GRUB 2.06\0");
        let mut module = Vec::new();
        module.extend_from_slice(&le32(0x30_0000));
        module.extend_from_slice(&le32(0x30_0003));
        module.extend_from_slice(b"config\0");
        tag(&mut info, tag::MODULE, &module);
        let mut mmap = Vec::new();
        mmap.extend_from_slice(&le32(24));
        mmap.extend_from_slice(&le32(0));
        for (start, len, ty) in [
            (0u64, 0xa0000u64, 1u32),
            (0x10_0000, 0x7ee_0000, 1),
            (0x7fe_0000, 0x2_0000, 3),
        ] {
            mmap.extend_from_slice(&start.to_le_bytes());
            mmap.extend_from_slice(&len.to_le_bytes());
            mmap.extend_from_slice(&le32(ty));
            mmap.extend_from_slice(&le32(0));
        }
        tag(&mut info, tag::MMAP, &mmap);
        let mut rsdp = b"RSD PTR ".to_vec();
        rsdp.resize(20, 0);
        tag(&mut info, tag::ACPI_OLD, &rsdp);
        let mut rsdp2 = b"RSD PTR ".to_vec();
        rsdp2.resize(36, 2);
        tag(&mut info, tag::ACPI_NEW, &rsdp2);
        tag(&mut info, 21, &[0; 4]);
        tag(&mut info, tag::END, &[]);
        let total = info.len() as u32;
        info[0..4].copy_from_slice(&le32(total));
        let mut m = FakeMem::new(0x20_0000, 0x20_0000);
        m.put(0x20_1000, &info);
        m.put(0x30_0000, b"abc");
        m
    }

    #[test]
    fn v2_reads_tags_and_prefers_the_new_rsdp() {
        let mem = grub_v2();
        let bi = parse(&mem, MAGIC_V2, 0x20_1000).unwrap();
        assert_eq!(bi.protocol, Protocol::V2);
        assert_eq!(bi.cmdline, "panic=halt");
        assert_eq!(bi.loader, "GRUB 2.06");
        let m = bi.modules().next().unwrap();
        assert_eq!(
            (m.start, m.bytes, m.name),
            (0x30_0000, &b"abc"[..], "config")
        );
        assert_eq!(bi.memory.regions().len(), 3);
        assert_eq!(bi.memory.regions()[2].kind, RegionKind::AcpiReclaimable);
        assert_eq!(bi.rsdp.map(<[u8]>::len), Some(36));
    }

    #[test]
    fn v2_rejects_bad_sizes_and_stops_at_broken_tags() {
        let mut mem = grub_v2();
        mem.put(0x20_1000, &le32(4));
        assert_eq!(
            parse(&mem, MAGIC_V2, 0x20_1000).unwrap_err(),
            BootError::BadSize(4)
        );
        let mut mem = grub_v2();
        // Corrupt the second tag's size: parsing keeps what came before.
        let second = 0x20_1000 + 8 + 24;
        mem.put(second + 4, &le32(3));
        let bi = parse(&mem, MAGIC_V2, 0x20_1000).unwrap();
        assert_eq!(bi.cmdline, "panic=halt");
        assert_eq!(bi.loader, "");
        assert_eq!(bi.memory.regions().len(), 0);
    }
}
