// hvcheck fixture: x86_64 — linker base is a high-half virtual address, regions are named consts,
// MEM_TYPE_RESERVED is board-local. hvisor ends 4 MiB below the root zone's RAM (M013 headroom).
use crate::{arch::zone::HvArchZoneCnode {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
node {
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
};
onfig, config::*, memory::GuestPhysAddr};

pub const MEM_TYPE_RESERVED: u32 = 5;

pub const BOARD_NCPUS: usize = 4;

pub const ROOT_ZONE_DTB_ADDR: u64 = 0x00000000;
pub const ROOT_ZONE_BOOT_STACK: GuestPhysAddr = 0x7000;
pub const ROOT_ZONE_ENTRY: u64 = 0x8000;
pub const ROOT_ZONE_KERNEL_ADDR: u64 = 0x500_0000; // hpa
pub const ROOT_ZONE_CPUS: u64 = (1 << 0) | (1 << 1);

const ROOT_ZONE_RSDP_REGION: HvConfigMemoryRegion = HvConfigMemoryRegion {
    mem_type: MEM_TYPE_RAM,
    physical_start: 0x50e_0000,
    virtual_start: 0xe_0000,
    size: 0x2_0000,
};
const ROOT_ZONE_RSDP_REGION_ID: usize = 0x1;

pub const ROOT_ZONE_NAME: &str = "root-linux";

pub const ROOT_ZONE_MEMORY_REGIONS: [HvConfigMemoryRegion; 4] = [
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x500_0000,
        virtual_start: 0x0,
        size: 0xe_0000,
    }, // ram
    ROOT_ZONE_RSDP_REGION, // rsdp
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x510_0000,
        virtual_start: 0x10_0000,
        size: 0x14f0_0000,
    }, // ram
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RESERVED,
        physical_start: 0x4030_0000,
        virtual_start: 0x4030_0000,
        size: 0x2000_0000,
    }, // zone 1
];

pub const ROOT_ZONE_IRQS_BITMAP: &[BitmapWord] = &get_irqs_bitmap(&[0; 32]);
pub const ROOT_ZONE_IOAPIC_BASE: usize = 0xfec0_0000;
pub const ROOT_ARCH_ZONE_CONFIG: HvArchZoneConfig = HvArchZoneConfig {
    ioapic_base: ROOT_ZONE_IOAPIC_BASE,
    ioapic_size: 0x1000,
    kernel_entry_gpa: 0x10_0000,
    rsdp_memory_region_id: ROOT_ZONE_RSDP_REGION_ID,
};

#[cfg(all(feature = "graphics"))]
pub const GRAPHICS_FONT: &[u8] = include_bytes!("font.psf");
