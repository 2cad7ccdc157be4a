// hvcheck fixture: one board with a mistake of every other layout-rule class (see tests and docs).
use crate::{
    arch::{mmu::MemoryType, zone::{GicConfig, Gicv3Config, HvArchZoneConfig}},
    config::*,
};

pub const BOARD_NCPUS: usize = 4;

#[rustfmt::skip]
pub const BOARD_PHYSMEM_LIST: &[(u64, u64, MemoryType)] = &[
    (0x_,        0x10000000,  MemoryType::Device),
    (0x40000000, 0x100000000, MemoryType::Normal),
];

pub const ROOT_ZONE_DTB_ADDR: u64 = 0x46000000;
pub const ROOT_ZONE_KERNEL_ADDR: u64 = 0x46400000;
pub const ROOT_ZONE_ENTRY: u64 = 0x46400000;
pub const ROOT_ZONE_CPUS: u64 = (1 << 0) | (1 << 1);
pub const ROOT_ZONE_NAME: &str = "root-linux";

pub const ROOT_ZONE_MEMORY_REGIONS: &[HvConfigMemoryRegion] = &[
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x45000000,
        virtual_start: 0x45000000,
        size: 0xb000000,
    }, // ram: starts 2 MiB after the estimated __hv_end (M013)
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x4f000000,
        virtual_start: 0x4f000000,
        size: 0x3000000,
    }, // ram: overlaps the previous region (M005)
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_RAM,
        physical_start: 0x8000000,
        virtual_start: 0x8000000,
        size: 0x100000,
    }, // ram on top of the GIC distributor (M006)
    HvConfigMemoryRegion {
        mem_type: MEM_TYPE_IO,
        physical_start: 0x9000800,
        virtual_start: 0x9000800,
        size: 0x100,
    }, // serial: not page aligned (M009)
];

pub const ROOT_ZONE_IRQS: [u32; 2] = [33, 64];

pub const ROOT_ARCH_ZONE_CONFIG: HvArchZoneConfig = HvArchZoneConfig {
    is_aarch32: 0,
    gic_config: GicConfig::Gicv3(Gicv3Config {
        gicd_base: 0x8000000,
        gicd_size: 0x10000,
        gicr_base: 0x80a0000,
        gicr_size: 0xf60000,
        gits_base: 0x8080000,
        gits_size: 0x20000,
    }),
};
